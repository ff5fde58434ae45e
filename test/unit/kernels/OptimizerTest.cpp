//===- OptimizerTest.cpp - GlobalNorm, AdamW, SGD, in-place updates -------===//
//
// The update kernels against PyTorch's formulas written out here in double
// (torch.optim.AdamW / Adam / SGD and clip_grad_norm_), over several steps
// so that bias correction and momentum buffers are exercised; the optimized
// kernels against the references; the checks on hyperparameters.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

using namespace onerec::kernels::test;

namespace {

HostTensor stepTensor(int64_t step) { return ints(DType::i64, {}, {step}); }

/// optimizer.hparams as the driver fills it.
HostTensor hparams(double lr, double b1, double b2, double eps, double wd,
                   double clip, double scale) {
  return floats({8}, {float(lr), float(b1), float(b2), float(eps), float(wd),
                      float(clip), float(scale), 0.0f});
}

HostTensor copyOf(const HostTensor &t) { return t; }

/// Runs an op without results on `operands`, which it updates in place
/// (runKernel works on copies: write them back).
Status runUpdate(OpCode op, KernelVariant variant, const KernelAttrs &a,
                 std::vector<HostTensor *> operands) {
  std::vector<HostTensor> in;
  for (HostTensor *t : operands)
    in.push_back(*t);
  std::vector<HostTensor> none;
  Status s = runKernel(op, variant, a, in, none);
  for (size_t i = 0; i < operands.size(); ++i)
    *operands[i] = in[i];
  return s;
}

/// PyTorch's clip_grad_norm_ coefficient for gradients scaled by `scale`.
double clipCoefficient(double norm, double clip, double scale) {
  return clip > 0 ? std::min(1.0, clip / (norm * scale + 1e-6)) : 1.0;
}

TEST(Optimizers, GlobalNormMatchesDoubleSum) {
  std::vector<HostTensor> grads = {randomFloats({3, 5}), randomFloats({70000}),
                                   randomFloats({1})};
  double sum = 0;
  for (const HostTensor &g : grads)
    for (int64_t i = 0; i < g.numel(); ++i)
      sum += double(g.data<float>()[i]) * g.data<float>()[i];
  auto out = expectVariantsAgree(OpCode::GlobalNorm, attrs({}), grads,
                                 {HostTensor(DType::f32, {})}, 1e-6, 0);
  EXPECT_NEAR(out[0].at<float>(0), std::sqrt(sum), 1e-6 * std::sqrt(sum));
}

struct AdamCase {
  bool decoupled, decay;
  double clip, scale;
};

TEST(Optimizers, AdamWMatchesPyTorchOverSteps) {
  for (AdamCase c :
       {AdamCase{true, true, 0, 1}, AdamCase{true, false, 0, 1},
        AdamCase{false, true, 0, 1}, AdamCase{true, true, 0.5, 1},
        AdamCase{false, true, 0.5, 0.25}, AdamCase{true, true, 100, 0.5}})
    for (KernelVariant v :
         {KernelVariant::Reference, KernelVariant::Optimized}) {
      double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
      Shape shapes[2] = {{3, 5}, {70001}};
      HostTensor params[2] = {randomFloats(shapes[0]), randomFloats(shapes[1])};
      HostTensor m[2] = {HostTensor(DType::f32, shapes[0]),
                         HostTensor(DType::f32, shapes[1])};
      HostTensor vv[2] = {HostTensor(DType::f32, shapes[0]),
                          HostTensor(DType::f32, shapes[1])};
      // The expected state, in double.
      std::vector<double> ep[2], em[2], ev[2];
      for (int k = 0; k < 2; ++k) {
        ep[k].assign(params[k].data<float>(),
                     params[k].data<float>() + params[k].numel());
        em[k].assign(size_t(params[k].numel()), 0.0);
        ev[k].assign(size_t(params[k].numel()), 0.0);
      }
      KernelAttrs a = attrs(
          {{"decay", int64_t(c.decay)}, {"decoupled", int64_t(c.decoupled)}});
      for (int64_t step = 1; step <= 3; ++step) {
        HostTensor grads[2] = {randomFloats(shapes[0], -2, 2),
                               randomFloats(shapes[1], -2, 2)};
        std::vector<HostTensor> normOut = {HostTensor(DType::f32, {})};
        ASSERT_TRUE(runKernel(OpCode::GlobalNorm, v, attrs({}),
                              {grads[0], grads[1]}, normOut)
                        .isOk());
        double norm = normOut[0].at<float>(0);
        double coef = clipCoefficient(norm, c.clip, c.scale) * c.scale;
        HostTensor hp = hparams(lr, b1, b2, eps, wd, c.clip, c.scale);
        for (int k = 0; k < 2; ++k) {
          HostTensor st = stepTensor(step);
          Status s = runUpdate(
              OpCode::AdamWUpdate, v, a,
              {&params[k], &grads[k], &m[k], &vv[k], &st, &hp, &normOut[0]});
          ASSERT_TRUE(s.isOk()) << s.toString();
          double wdEff = c.decay ? double(float(wd)) : 0.0;
          double lrF = float(lr), b1F = float(b1), b2F = float(b2),
                 epsF = float(eps);
          double bc1 = 1 - std::pow(b1F, double(step)),
                 bc2 = 1 - std::pow(b2F, double(step));
          for (size_t i = 0; i < ep[k].size(); ++i) {
            double g = double(grads[k].data<float>()[i]) * coef;
            if (!c.decoupled)
              g += wdEff * ep[k][i]; // Adam: L2 into the gradient
            else
              ep[k][i] *= 1 - lrF * wdEff; // AdamW: param.mul_(1 - lr·wd)
            em[k][i] = b1F * em[k][i] + (1 - b1F) * g;
            ev[k][i] = b2F * ev[k][i] + (1 - b2F) * g * g;
            double denom = std::sqrt(ev[k][i]) / std::sqrt(bc2) + epsF;
            ep[k][i] -= lrF / bc1 * em[k][i] / denom;
          }
          for (size_t i = 0; i < ep[k].size(); i += 97) {
            ASSERT_NEAR(params[k].data<float>()[i], ep[k][i],
                        2e-6 + 2e-6 * std::fabs(ep[k][i]))
                << variantName(v) << " step " << step << " element " << i;
            ASSERT_NEAR(vv[k].data<float>()[i], ev[k][i],
                        1e-6 * std::fabs(ev[k][i]) + 1e-12);
          }
        }
      }
    }
}

TEST(Optimizers, SgdMatchesPyTorchOverSteps) {
  struct Case {
    double momentum;
    bool nesterov, decay;
    double clip;
  };
  for (Case c : {Case{0, false, false, 0}, Case{0, false, true, 0},
                 Case{0.9, false, true, 0}, Case{0.9, true, true, 0},
                 Case{0.8, true, false, 0.3}})
    for (KernelVariant v :
         {KernelVariant::Reference, KernelVariant::Optimized}) {
      double lr = 0.05, wd = 0.01;
      Shape shape{40000};
      HostTensor param = randomFloats(shape);
      HostTensor buf =
          c.momentum ? HostTensor(DType::f32, shape) : absentTensor();
      std::vector<double> ep(param.data<float>(),
                             param.data<float>() + param.numel()),
          eb(ep.size(), 0.0);
      for (int64_t step = 1; step <= 3; ++step) {
        HostTensor grad = randomFloats(shape, -2, 2);
        std::vector<HostTensor> normOut = {HostTensor(DType::f32, {})};
        ASSERT_TRUE(runKernel(OpCode::GlobalNorm, v, attrs({}), {grad}, normOut)
                        .isOk());
        double coef = clipCoefficient(normOut[0].at<float>(0), c.clip, 1);
        HostTensor st = stepTensor(step),
                   hp = hparams(lr, c.momentum, c.nesterov, 0, wd, c.clip, 1);
        Status s = runUpdate(OpCode::SgdUpdate, v,
                             attrs({{"decay", int64_t(c.decay)}}),
                             {&param, &grad, &buf, &st, &hp, &normOut[0]});
        ASSERT_TRUE(s.isOk()) << s.toString();
        double mu = float(c.momentum), lrF = float(lr),
               wdF = c.decay ? double(float(wd)) : 0.0;
        for (size_t i = 0; i < ep.size(); ++i) {
          double d = double(grad.data<float>()[i]) * coef + wdF * ep[i];
          if (mu != 0) {
            eb[i] = step == 1 ? d : mu * eb[i] + d; // buf = clone(d_p) first
            d = c.nesterov ? d + mu * eb[i] : eb[i];
          }
          ep[i] -= lrF * d;
        }
        for (size_t i = 0; i < ep.size(); i += 101)
          ASSERT_NEAR(param.data<float>()[i], ep[i], 2e-6)
              << variantName(v) << " step " << step << " element " << i;
      }
    }
}

TEST(Optimizers, RejectBadHyperparameters) {
  HostTensor p = randomFloats({4}), g = randomFloats({4}),
             m = HostTensor(DType::f32, {4}), v = HostTensor(DType::f32, {4});
  KernelAttrs a = attrs({{"decay", int64_t(1)}, {"decoupled", int64_t(1)}});
  auto adam = [&](int64_t step, HostTensor hp, HostTensor norm) {
    std::vector<HostTensor> none;
    Status s = runKernel(OpCode::AdamWUpdate, KernelVariant::Optimized, a,
                         {p, g, m, v, stepTensor(step), hp, norm}, none);
    return s.isOk() ? std::string() : s.message();
  };
  HostTensor hp = hparams(1e-3, 0.9, 0.999, 1e-8, 0, 0, 1);
  EXPECT_NE(adam(0, hp, floats({}, {1})).find("optimizer.step is 0"),
            std::string::npos);
  EXPECT_NE(adam(1, hparams(1e-3, 0.9, 0.999, 1e-8, 0, 1.0, 1), absentTensor())
                .find("passes no gradient norm"),
            std::string::npos);
  EXPECT_NE(adam(1, hparams(-1, 0.9, 0.999, 1e-8, 0, 0, 1), absentTensor())
                .find("optimizer.hparams[0] is -1"),
            std::string::npos);
  EXPECT_NE(adam(1, hparams(1e-3, 1.0, 0.999, 1e-8, 0, 0, 1), absentTensor())
                .find("must be below 1"),
            std::string::npos);
  std::vector<HostTensor> none;
  Status s = runKernel(OpCode::SgdUpdate, KernelVariant::Reference,
                       attrs({{"decay", int64_t(0)}}),
                       {p, g, absentTensor(), stepTensor(1),
                        hparams(0.1, 0.9, 0, 0, 0, 0, 1), absentTensor()},
                       none);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("no momentum buffer"), std::string::npos)
      << s.message();
}

TEST(Optimizers, MoeBiasUpdateMovesTowardsBalance) {
  HostTensor bias = floats({4}, {0, 0.5f, -1, 0});
  HostTensor load = floats({4}, {0.125f, 0.5f, 0.25f, 0.125f}); // mean 0.25
  HostTensor hp = hparams(0, 0, 0, 0, 0, 0, 1);
  ASSERT_TRUE(runUpdate(OpCode::MoeBiasUpdate, KernelVariant::Optimized,
                        attrs({{"rate", 0.01}}), {&bias, &load, &hp})
                  .isOk());
  EXPECT_FLOAT_EQ(bias.at<float>(0), 0.01f);
  EXPECT_FLOAT_EQ(bias.at<float>(1), 0.49f);
  EXPECT_FLOAT_EQ(bias.at<float>(2), -1.0f); // at the mean: unchanged
  EXPECT_FLOAT_EQ(bias.at<float>(3), 0.01f);
}

TEST(Optimizers, AssignAddAndFill) {
  for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized}) {
    HostTensor acc = randomFloats({50000}), x = randomFloats({50000});
    HostTensor expected = copyOf(acc);
    for (int64_t i = 0; i < acc.numel(); ++i)
      expected.data<float>()[i] += x.data<float>()[i];
    ASSERT_TRUE(runUpdate(OpCode::AssignAdd, v, attrs({}), {&acc, &x}).isOk());
    expectClose(acc, expected, 0, 0, "assign_add");
    ASSERT_TRUE(
        runUpdate(OpCode::Fill, v, attrs({{"value", 0.0}}), {&acc}).isOk());
    for (int64_t i = 0; i < acc.numel(); i += 999)
      EXPECT_EQ(acc.at<float>(i), 0.0f);
    HostTensor counts = ints(DType::i64, {3}, {1, 2, 3}),
               ones = ints(DType::i64, {3}, {1, 1, 1});
    ASSERT_TRUE(
        runUpdate(OpCode::AssignAdd, v, attrs({}), {&counts, &ones}).isOk());
    EXPECT_EQ(counts.at<int64_t>(2), 4);
    ASSERT_TRUE(
        runUpdate(OpCode::Fill, v, attrs({{"value", int64_t(7)}}), {&counts})
            .isOk());
    EXPECT_EQ(counts.at<int64_t>(0), 7);
  }
}

TEST(Optimizers, AssignCopiesIntoTheTarget) {
  for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized}) {
    HostTensor target = randomFloats({50000}), x = randomFloats({50000});
    HostTensor expected = copyOf(x);
    ASSERT_TRUE(runUpdate(OpCode::Assign, v, attrs({}), {&target, &x}).isOk());
    expectClose(target, expected, 0, 0, "assign");
    HostTensor counts = ints(DType::i64, {3}, {1, 2, 3}),
               next = ints(DType::i64, {3}, {4, 5, 6});
    ASSERT_TRUE(
        runUpdate(OpCode::Assign, v, attrs({}), {&counts, &next}).isOk());
    EXPECT_EQ(counts.at<int64_t>(2), 6);
    // A value of another size is refused, not copied past the target.
    HostTensor small = randomFloats({3}), big = randomFloats({4});
    Status s = runUpdate(OpCode::Assign, v, attrs({}), {&small, &big});
    ASSERT_FALSE(s.isOk());
    EXPECT_NE(s.message().find("does not match the target"), std::string::npos)
        << s.message();
  }
}

} // namespace
