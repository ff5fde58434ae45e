//===- GradTestUtil.h - finite-difference checks of backward kernels ------===//
//
// A backward op is held to central differences of its forward op's
// reference kernel. The loss is a random projection L = Σ w·y of one forward
// result (computed in f32 by the kernel, summed in double), so dy = w and
// two forward runs give one derivative. Each check compares
//   - directional derivatives: L(x + εu) − L(x − εu) against g·(x⁺ − x⁻)
//     for random directions u (x⁺, x⁻ as rounded to f32, so rounding the
//     perturbed input adds no error), which covers every element at once;
//   - single elements: the same with u = e_i for a few sampled i.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_TEST_UNIT_KERNELS_GRADTESTUTIL_H
#define ONEREC_TEST_UNIT_KERNELS_GRADTESTUTIL_H

#include "KernelTestUtil.h"

namespace onerec::kernels::test {

/// A forward op and where the loss projection reads.
struct ForwardSpec {
  OpCode op;
  KernelAttrs attrs;
  std::vector<HostTensor> inputs;
  /// Result templates (shapes and dtypes).
  std::vector<HostTensor> outputs;
  /// The result the loss projects.
  int result = 0;
};

/// Σ w·y for the forward reference on `inputs`.
inline double projectedLoss(const ForwardSpec &f,
                            const std::vector<HostTensor> &inputs,
                            const HostTensor &w) {
  std::vector<HostTensor> out = f.outputs;
  Status s = runKernel(f.op, KernelVariant::Reference, f.attrs, inputs, out);
  EXPECT_TRUE(s.isOk()) << s.toString();
  double loss = 0;
  const HostTensor &y = out[size_t(f.result)];
  for (int64_t i = 0; i < y.numel(); ++i)
    loss += double(w.data<float>()[i]) * y.data<float>()[i];
  return loss;
}

/// Expects `grad` to be the gradient of Σ w·y with respect to forward
/// operand `which`.
inline void expectGradient(const ForwardSpec &f, const HostTensor &w, int which,
                           const HostTensor &grad, double eps,
                           const std::string &what, double rtol = 2e-3,
                           int directions = 3, int elements = 6) {
  const HostTensor &x = f.inputs[size_t(which)];
  ASSERT_EQ(grad.numel(), x.numel()) << what;
  int64_t n = x.numel();
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  auto check = [&](const std::vector<float> &u, const std::string &label) {
    std::vector<HostTensor> plus = f.inputs, minus = f.inputs;
    double analytic = 0, scale = 0;
    for (int64_t i = 0; i < n; ++i) {
      float xi = x.data<float>()[i];
      float hi = float(xi + eps * u[size_t(i)]),
            lo = float(xi - eps * u[size_t(i)]);
      plus[size_t(which)].data<float>()[i] = hi;
      minus[size_t(which)].data<float>()[i] = lo;
      double term = double(grad.data<float>()[i]) * (double(hi) - double(lo));
      analytic += term;
      scale += std::fabs(term);
    }
    double numeric = projectedLoss(f, plus, w) - projectedLoss(f, minus, w);
    // Rounding of the f32 forward: about 1e-7 of Σ|w·y| per evaluation.
    double noise = 0;
    {
      std::vector<HostTensor> out = f.outputs;
      (void)runKernel(f.op, KernelVariant::Reference, f.attrs, f.inputs, out);
      for (int64_t i = 0; i < out[size_t(f.result)].numel(); ++i)
        noise += std::fabs(double(w.data<float>()[i]) *
                           out[size_t(f.result)].data<float>()[i]);
    }
    double tol = rtol * scale + 4e-7 * noise + 1e-9;
    EXPECT_NEAR(numeric, analytic, tol)
        << what << ": " << label << " (eps " << eps << ")";
  };
  for (int d = 0; d < directions; ++d) {
    std::vector<float> u(static_cast<size_t>(n));
    for (float &v : u)
      v = unit(rng());
    check(u, "direction " + std::to_string(d));
  }
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  for (int e = 0; e < elements && e < n; ++e) {
    int64_t i = pick(rng());
    std::vector<float> u(size_t(n), 0.0f);
    u[size_t(i)] = 1.0f;
    check(u, "element " + std::to_string(i));
  }
}

/// A random projection for result `i` of `f`.
inline HostTensor projectionFor(const ForwardSpec &f) {
  return randomFloats(f.outputs[size_t(f.result)].shape);
}

} // namespace onerec::kernels::test

#endif // ONEREC_TEST_UNIT_KERNELS_GRADTESTUTIL_H
