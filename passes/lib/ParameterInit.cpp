//===- ParameterInit.cpp - initial values of model parameters -------------===//

#include "ParameterInit.h"

#include "onerec/Runtime/Philox.h"

#include <cmath>

using namespace onerec;

void onerec::initializeParameter(rec::InitAttr init,
                                 llvm::ArrayRef<int64_t> shape, float *out,
                                 int64_t count) {
  double a = init.getA().convertToDouble(), b = init.getB().convertToDouble();
  uint64_t seed = init.getSeed();
  switch (init.getKind()) {
  case rec::InitKind::zeros:
    std::fill(out, out + count, 0.0f);
    return;
  case rec::InitKind::ones:
    std::fill(out, out + count, 1.0f);
    return;
  case rec::InitKind::constant:
    std::fill(out, out + count, static_cast<float>(a));
    return;
  case rec::InitKind::normal:
    for (int64_t i = 0; i < count; ++i)
      out[i] = static_cast<float>(a + b * philox::normal(seed, 0, i));
    return;
  case rec::InitKind::truncated_normal:
    // Redraw (at the next step of the element's own stream) until the draw
    // is within two standard deviations: exact, and still order-free.
    for (int64_t i = 0; i < count; ++i) {
      double z = philox::normal(seed, 0, i);
      for (uint64_t step = 1; std::fabs(z) > 2.0; ++step)
        z = philox::normal(seed, step, i);
      out[i] = static_cast<float>(a + b * z);
    }
    return;
  case rec::InitKind::uniform:
    for (int64_t i = 0; i < count; ++i)
      out[i] = static_cast<float>(a + (b - a) * philox::uniform(seed, 0, i));
    return;
  case rec::InitKind::xavier_uniform: {
    // Glorot: fan in and out are the last two dims ([in, out] weights, and
    // per expert for [E, in, out]); a vector counts as its own fan.
    double fanIn = shape.size() >= 2 ? shape[shape.size() - 2]
                                     : (shape.empty() ? 1 : shape[0]);
    double fanOut = shape.empty() ? 1 : shape.back();
    double bound = a * std::sqrt(6.0 / (fanIn + fanOut));
    for (int64_t i = 0; i < count; ++i)
      out[i] = static_cast<float>(-bound +
                                  2 * bound * philox::uniform(seed, 0, i));
    return;
  }
  }
}
