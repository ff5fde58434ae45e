//===- TrainStepTest.cpp - training entries through the executor ----------===//
//
// A hand-built plan with a Grad and a TrainStep entry (WeightGrad,
// GlobalNorm, AdamWUpdate on a weight and its optimizer state) runs on the
// real kernels: the step updates the writable store in place, the Grad
// entry writes nothing, and the updates equal the kernels called directly.
// Plus (disabled by default) the speed of the optimized training kernels
// against their references on a SASRec-like shape.
//
//===----------------------------------------------------------------------===//

#include "../TestPlans.h"
#include "KernelTestUtil.h"

#include "onerec/Kernels/CpuKernels.h"
#include "onerec/Runtime/Executor.h"

#include <chrono>

using namespace onerec;
using onerec::kernels::test::randomFloats;
using onerec::test::linearTrainPlan;
using runtime::DType;
using runtime::Executor;
using runtime::KernelVariant;
using runtime::OpCode;
using runtime::ParameterStore;
using runtime::PlanFile;

namespace {

runtime::HostTensor hostCopy(const kernels::test::HostTensor &t) {
  runtime::HostTensor h(t.dtype, t.shape);
  std::memcpy(h.data(), t.storage.data(), h.bytes());
  return h;
}

TEST(TrainStep, UpdatesTheStoreLikeTheKernelsCalledDirectly) {
  std::vector<uint8_t> bytes = linearTrainPlan(16).build();
  auto plan = PlanFile::fromBytes(bytes.data(), bytes.size(), "train.fb");
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  ParameterStore store(**plan);
  ASSERT_TRUE(store.makeWritable().isOk());
  const runtime::KernelRegistry &registry = runtime::defaultKernelRegistry();
  auto grad = Executor::create(**plan, "train_grad", store, registry);
  auto step = Executor::create(**plan, "train_step", store, registry);
  ASSERT_TRUE(grad.isOk()) << grad.status().message();
  ASSERT_TRUE(step.isOk()) << step.status().message();

  // The expected state, from the kernels called one by one.
  kernels::test::HostTensor w(DType::f32, {4, 3}), m(DType::f32, {4, 3}),
      v(DType::f32, {4, 3});
  std::memcpy(w.storage.data(), store.view(0).data, 48);
  float hpValues[8] = {0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, 0.5f, 1.0f, 0.0f};
  for (int64_t t = 1; t <= 3; ++t) {
    auto x = randomFloats({5, 4}), dy = randomFloats({5, 3});
    auto hp =
        kernels::test::floats({8}, std::vector<float>(hpValues, hpValues + 8));
    auto stepT = kernels::test::ints(DType::i64, {}, {t});
    runtime::HostTensor hx = hostCopy(x), hdy = hostCopy(dy),
                        hstep = hostCopy(stepT), hhp = hostCopy(hp);
    // train_grad writes nothing.
    std::vector<float> before(store.view(0).as<float>(),
                              store.view(0).as<float>() + 12);
    auto g = (*grad)->run({{"x", hx.view()}, {"dy", hdy.view()}});
    ASSERT_TRUE(g.isOk()) << g.status().message();
    EXPECT_EQ(std::vector<float>(store.view(0).as<float>(),
                                 store.view(0).as<float>() + 12),
              before);
    auto out = (*step)->run({{"x", hx.view()},
                             {"dy", hdy.view()},
                             {"optimizer.step", hstep.view()},
                             {"optimizer.hparams", hhp.view()}});
    ASSERT_TRUE(out.isOk()) << out.status().message();

    std::vector<kernels::test::HostTensor> gw = {
        kernels::test::HostTensor(DType::f32, {4, 3})};
    ASSERT_TRUE(kernels::test::runKernel(OpCode::WeightGrad,
                                         KernelVariant::Optimized,
                                         kernels::test::attrs({}), {x, dy}, gw)
                    .isOk());
    std::vector<kernels::test::HostTensor> nrm = {
        kernels::test::HostTensor(DType::f32, {})};
    ASSERT_TRUE(kernels::test::runKernel(OpCode::GlobalNorm,
                                         KernelVariant::Optimized,
                                         kernels::test::attrs({}), gw, nrm)
                    .isOk());
    EXPECT_EQ((*out)[0].tensor.as<float>()[0], nrm[0].at<float>(0));
    std::vector<kernels::test::HostTensor> in = {w,     gw[0], m,     v,
                                                 stepT, hp,    nrm[0]},
                                           none;
    ASSERT_TRUE(kernels::test::runKernel(
                    OpCode::AdamWUpdate, KernelVariant::Optimized,
                    kernels::test::attrs(
                        {{"decay", int64_t(1)}, {"decoupled", int64_t(1)}}),
                    in, none)
                    .isOk());
    w = in[0], m = in[2], v = in[3];
    for (int i = 0; i < 12; ++i) {
      EXPECT_EQ(store.view(0).as<float>()[i], w.at<float>(i)) << i;
      EXPECT_EQ(store.view(1).as<float>()[i], m.at<float>(i)) << i;
      EXPECT_EQ(store.view(2).as<float>()[i], v.at<float>(i)) << i;
    }
  }
}

//===----------------------------------------------------------------------===//
// Speed (run with --gtest_also_run_disabled_tests)
//===----------------------------------------------------------------------===//

double secondsPerCall(OpCode op, KernelVariant variant,
                      const runtime::KernelAttrs &a,
                      const std::vector<kernels::test::HostTensor> &in,
                      std::vector<kernels::test::HostTensor> out,
                      runtime::ThreadPool &pool) {
  kernels::test::RunOptions options;
  options.pool = &pool;
  auto once = [&] {
    return kernels::test::runKernel(op, variant, a, in, out, options);
  };
  EXPECT_TRUE(once().isOk());
  int calls = 0;
  auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < 0.5 || calls < 3) {
    (void)once();
    ++calls;
    elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  }
  return elapsed / calls;
}

TEST(TrainStep, DISABLED_SpeedOfTrainingKernels) {
  using kernels::test::HostTensor;
  runtime::ThreadPool pool(0);
  int64_t B = 128, L = 50, d = 64;
  auto report = [&](const char *name, OpCode op, const runtime::KernelAttrs &a,
                    const std::vector<HostTensor> &in,
                    const std::vector<HostTensor> &out) {
    double ref = secondsPerCall(op, KernelVariant::Reference, a, in, out, pool);
    double opt = secondsPerCall(op, KernelVariant::Optimized, a, in, out, pool);
    std::printf("%-28s reference %9.3f ms  optimized %8.3f ms  speedup %6.1fx "
                "(%u threads)\n",
                name, ref * 1e3, opt * 1e3, ref / opt, pool.size());
  };
  runtime::KernelAttrs attn =
      kernels::test::attrs({{"num_heads", int64_t(1)},
                            {"num_kv_heads", int64_t(1)},
                            {"causal", int64_t(1)},
                            {"scale", 0.125},
                            {"score_norm", int64_t(0)}});
  HostTensor q = randomFloats({B, L, d}), k = randomFloats({B, L, d}),
             v = randomFloats({B, L, d}), dy = randomFloats({B, L, d});
  HostTensor absent = kernels::test::absentTensor();
  report("AttentionGrad [128,50,64]", OpCode::AttentionGrad, attn,
         {q, k, v, absent, absent, dy},
         {HostTensor(DType::f32, {B, L, d}), HostTensor(DType::f32, {B, L, d}),
          HostTensor(DType::f32, {B, L, d})});
  report("LayerNormGrad [128,50,64]", OpCode::LayerNormGrad,
         kernels::test::attrs({{"eps", 1e-5}}), {q, randomFloats({d}), dy},
         {HostTensor(DType::f32, {B, L, d}), HostTensor(DType::f32, {d}),
          HostTensor(DType::f32, {d})});
  int64_t items = 3417; // SASRec ml-1m: item table [3417, 64]
  report(
      "AdamWUpdate [3417,64]", OpCode::AdamWUpdate,
      kernels::test::attrs({{"decay", int64_t(1)}, {"decoupled", int64_t(1)}}),
      {randomFloats({items, d}), randomFloats({items, d}),
       randomFloats({items, d}, 0, 1), randomFloats({items, d}, 0, 1),
       kernels::test::ints(DType::i64, {}, {10}),
       kernels::test::floats(
           {8}, {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f, 1.0f, 0.0f}),
       kernels::test::floats({}, {3.0f})},
      {});
  report("EmbeddingGrad [128,50]->[3417,64]", OpCode::EmbeddingGrad,
         kernels::test::attrs({}),
         {kernels::test::randomInts(DType::i64, {B, L}, 0, items - 1), dy},
         {HostTensor(DType::f32, {items, d})});
  report("CrossEntropyGrad [6400,3417]", OpCode::CrossEntropyGrad,
         kernels::test::attrs({{"reduction", int64_t(0)}}),
         {randomFloats({B * L, items}),
          kernels::test::randomInts(DType::i64, {B * L}, 0, items - 1), absent,
          kernels::test::floats({}, {1.0f})},
         {HostTensor(DType::f32, {B * L, items})});
}

} // namespace
