//===- ParameterInit.cpp - initial values of model parameters -------------===//

#include "ParameterInit.h"

#include "onerec/Kernels/Philox.h"

#include <cmath>

using namespace onerec;

namespace {

/// A uniform double in (0, 1] from two words (never 0: safe for log).
double unitOpen(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return (static_cast<double>(bits & ((1ull << 53) - 1)) + 1.0) *
         (1.0 / 9007199254740992.0);
}

/// Element `index`'s Philox block of stream `seed` at `step`: initializers
/// draw one block per element, so each element is a pure function of
/// (seed, step, index).
kernels::Philox4x32 block(uint64_t seed, uint64_t step, uint64_t index) {
  return kernels::philoxBlock(seed, step, index);
}

/// A standard normal draw (Box-Muller on one block).
double normal(uint64_t seed, uint64_t step, uint64_t index) {
  kernels::Philox4x32 b = block(seed, step, index);
  double u1 = unitOpen(b.v[0], b.v[1]), u2 = unitOpen(b.v[2], b.v[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

/// A uniform draw in [0, 1).
double uniform(uint64_t seed, uint64_t index) {
  kernels::Philox4x32 b = block(seed, 0, index);
  return unitOpen(b.v[0], b.v[1]) - 1.0 / 9007199254740992.0;
}

} // namespace

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
      out[i] = static_cast<float>(a + b * normal(seed, 0, i));
    return;
  case rec::InitKind::truncated_normal:
    // Redraw (at the next step of the element's own stream) until the draw
    // is within two standard deviations: exact, and still order-free.
    for (int64_t i = 0; i < count; ++i) {
      double z = normal(seed, 0, i);
      for (uint64_t step = 1; std::fabs(z) > 2.0; ++step)
        z = normal(seed, step, i);
      out[i] = static_cast<float>(a + b * z);
    }
    return;
  case rec::InitKind::uniform:
    for (int64_t i = 0; i < count; ++i)
      out[i] = static_cast<float>(a + (b - a) * uniform(seed, i));
    return;
  case rec::InitKind::xavier_uniform: {
    // Glorot: fan in and out are the last two dims ([in, out] weights, and
    // per expert for [E, in, out]); a vector counts as its own fan.
    double fanIn = shape.size() >= 2 ? shape[shape.size() - 2]
                                     : (shape.empty() ? 1 : shape[0]);
    double fanOut = shape.empty() ? 1 : shape.back();
    double bound = a * std::sqrt(6.0 / (fanIn + fanOut));
    for (int64_t i = 0; i < count; ++i)
      out[i] = static_cast<float>(-bound + 2 * bound * uniform(seed, i));
    return;
  }
  }
}
