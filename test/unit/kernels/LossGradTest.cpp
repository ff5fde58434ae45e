//===- LossGradTest.cpp - backward of losses and embedding lookups --------===//
//
// CrossEntropyGrad, BceWithLogitsGrad, SampledSoftmaxGrad and EmbeddingGrad:
// optimized against reference (every reduction, masks, label smoothing,
// shared and per-position negatives, repeated ids, every combine), and
// against finite differences of the forward reference kernels.
//
//===----------------------------------------------------------------------===//

#include "GradTestUtil.h"

using namespace onerec::kernels::test;

namespace {

/// The loss's shape for `reduction` over `elements`.
Shape lossShape(int64_t reduction, const Shape &elements) {
  return reduction == 2 ? elements : Shape{};
}

TEST(LossGrad, CrossEntropyMatchesReferenceAndFiniteDifferences) {
  for (int64_t reduction : {0, 1, 2})
    for (bool masked : {false, true})
      for (double smoothing : {0.0, 0.1}) {
        Shape elements{3, 5};
        int64_t C = 11;
        HostTensor mask = masked ? randomBools(elements, 0.6) : absentTensor();
        KernelAttrs a =
            attrs({{"reduction", reduction}, {"label_smoothing", smoothing}});
        ForwardSpec f{OpCode::CrossEntropy,
                      a,
                      {randomFloats({3, 5, C}, -3, 3),
                       randomInts(DType::i64, elements, 0, C - 1), mask},
                      {HostTensor(DType::f32, lossShape(reduction, elements))}};
        HostTensor w = projectionFor(f);
        std::string what = "cross_entropy_grad reduction " +
                           std::to_string(reduction) +
                           (masked ? " masked" : "") + " smoothing " +
                           std::to_string(smoothing);
        auto grads = expectVariantsAgree(
            OpCode::CrossEntropyGrad, a,
            {f.inputs[0], f.inputs[1], f.inputs[2], w},
            {HostTensor(DType::f32, {3, 5, C})}, 1e-4, 1e-6);
        expectGradient(f, w, 0, grads[0], 1e-2, what);
      }
}

TEST(LossGrad, CrossEntropyChecksCountedLabelsOnly) {
  HostTensor labels = ints(DType::i64, {2}, {1, 99});
  HostTensor mask = ints(DType::bool8, {2}, {1, 0});
  std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 4})};
  KernelAttrs a = attrs({{"reduction", int64_t(0)}});
  EXPECT_TRUE(
      runKernel(OpCode::CrossEntropyGrad, KernelVariant::Optimized, a,
                {randomFloats({2, 4}), labels, mask, floats({}, {1.0f})}, out)
          .isOk());
  Status s = runKernel(
      OpCode::CrossEntropyGrad, KernelVariant::Optimized, a,
      {randomFloats({2, 4}), labels, absentTensor(), floats({}, {1.0f})}, out);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("label 99 at position 1"), std::string::npos)
      << s.message();
}

TEST(LossGrad, BceMatchesReferenceAndFiniteDifferences) {
  for (int64_t reduction : {0, 1, 2})
    for (bool masked : {false, true}) {
      Shape x{4, 9};
      KernelAttrs a = attrs({{"reduction", reduction}});
      ForwardSpec f{OpCode::BceWithLogits,
                    a,
                    {randomFloats(x, -4, 4), randomFloats(x, 0, 1),
                     masked ? randomBools(x, 0.5) : absentTensor()},
                    {HostTensor(DType::f32, lossShape(reduction, x))}};
      HostTensor w = projectionFor(f);
      auto grads =
          expectVariantsAgree(OpCode::BceWithLogitsGrad, a,
                              {f.inputs[0], f.inputs[1], f.inputs[2], w},
                              {HostTensor(DType::f32, x)}, 1e-5, 1e-7);
      expectGradient(f, w, 0, grads[0], 1e-2,
                     "bce_grad reduction " + std::to_string(reduction));
    }
}

/// A SampledSoftmax problem over `pos` and `neg` (h [2, 4, d], table [V, d]):
/// the grad kernel's variants agree and match finite differences of the
/// forward; returns the gradients (dh, dtable).
std::vector<HostTensor> checkSampledSoftmaxGrad(const KernelAttrs &a, int64_t V,
                                                int64_t d, HostTensor pos,
                                                HostTensor neg, bool masked,
                                                const std::string &what,
                                                std::vector<HostTensor> &in) {
  Shape elements{2, 4};
  ForwardSpec f{
      OpCode::SampledSoftmax,
      a,
      {randomFloats({2, 4, d}), randomFloats({V, d}), pos, neg,
       masked ? randomBools(elements, 0.6) : absentTensor()},
      {HostTensor(DType::f32, lossShape(a.getInt("reduction"), elements))}};
  HostTensor w = projectionFor(f);
  in = f.inputs;
  in.push_back(w);
  auto grads = expectVariantsAgree(
      OpCode::SampledSoftmaxGrad, a, in,
      {HostTensor(DType::f32, {2, 4, d}), HostTensor(DType::f32, {V, d})}, 1e-4,
      1e-6);
  expectGradient(f, w, 0, grads[0], 1e-2, what + " dh");
  expectGradient(f, w, 1, grads[1], 1e-2, what + " dtable");
  return grads;
}

TEST(LossGrad, SampledSoftmaxMatchesReferenceAndFiniteDifferences) {
  for (bool shared : {true, false})
    for (int64_t reduction : {0, 2})
      for (bool masked : {false, true}) {
        int64_t V = 13, d = 6, N = 5;
        Shape elements{2, 4};
        HostTensor neg = shared ? randomInts(DType::i64, {N}, 0, V - 1)
                                : randomInts(DType::i32, {2, 4, N}, 0, V - 1);
        KernelAttrs a = attrs({{"reduction", reduction}});
        std::string what = std::string("sampled_softmax_grad") +
                           (shared ? " shared" : " per-position") +
                           " reduction " + std::to_string(reduction) +
                           (masked ? " masked" : "");
        std::vector<HostTensor> in;
        checkSampledSoftmaxGrad(a, V, d,
                                randomInts(DType::i64, elements, 0, V - 1), neg,
                                masked, what, in);
        // dh alone.
        expectVariantsAgree(OpCode::SampledSoftmaxGrad, a, in,
                            {HostTensor(DType::f32, {2, 4, d}), absentTensor()},
                            1e-4, 1e-6);
      }
}

// remove_hits: with a 4-row catalog every position's positive is also among
// its negatives (forced for the first per-position negative and by the
// shared set {0, 1, 2, 3, 1}); those candidates are left out of the softmax.
TEST(LossGrad, SampledSoftmaxRemoveHitsMatchesReferenceAndFiniteDifferences) {
  for (bool shared : {true, false})
    for (int64_t reduction : {0, 1})
      for (bool masked : {false, true}) {
        int64_t V = 4, d = 6, N = 5;
        Shape elements{2, 4};
        HostTensor pos = randomInts(DType::i64, elements, 0, V - 1);
        HostTensor neg = shared ? ints(DType::i64, {N}, {0, 1, 2, 3, 1})
                                : randomInts(DType::i32, {2, 4, N}, 0, V - 1);
        if (!shared)
          for (int64_t p = 0; p < 8; ++p)
            neg.data<int32_t>()[p * N] = int32_t(pos.at<int64_t>(p));
        KernelAttrs a =
            attrs({{"reduction", reduction}, {"remove_hits", int64_t(1)}});
        std::string what = std::string("sampled_softmax_grad remove_hits") +
                           (shared ? " shared" : " per-position") +
                           " reduction " + std::to_string(reduction) +
                           (masked ? " masked" : "");
        std::vector<HostTensor> in;
        auto grads =
            checkSampledSoftmaxGrad(a, V, d, pos, neg, masked, what, in);
        // Without remove_hits the hits count: the gradients differ.
        auto counted = expectVariantsAgree(
            OpCode::SampledSoftmaxGrad, attrs({{"reduction", reduction}}), in,
            {HostTensor(DType::f32, {2, 4, d}), HostTensor(DType::f32, {V, d})},
            1e-4, 1e-6);
        double diff = 0;
        for (int64_t i = 0; i < grads[0].numel(); ++i)
          diff += std::abs(grads[0].at<float>(i) - counted[0].at<float>(i));
        EXPECT_GT(diff, 1e-4) << what;
      }
}

TEST(EmbeddingGrad, MatchesReferenceAndFiniteDifferences) {
  struct Case {
    std::string name;
    int64_t combine, codebook;
    Shape ids;
    int64_t rows, d;
    DType dtype;
  };
  for (const Case &c :
       {Case{"plain", 0, 0, {4, 7}, 5, 3, DType::i64},
        Case{"plain-many-rows", 0, 0, {3, 50}, 3000, 8, DType::i32},
        Case{"sid-sum", 0, 4, {2, 3, 3}, 12, 5, DType::i64},
        Case{"sid-mean", 1, 4, {2, 3, 3}, 12, 5, DType::i32},
        Case{"sid-concat", 2, 6, {5, 2}, 12, 4, DType::i64}}) {
    KernelAttrs a = attrs({{"combine", c.combine}, {"codebook", c.codebook}});
    int64_t bound = c.codebook ? c.codebook : c.rows;
    // Few distinct ids, so rows repeat.
    HostTensor ids =
        randomInts(c.dtype, c.ids, 0, std::min<int64_t>(bound, 4) - 1);
    Shape y = c.ids;
    if (c.codebook) {
      int64_t levels = y.dims[y.rank - 1];
      y.dims[y.rank - 1] = c.combine == 2 ? levels * c.d : c.d;
    } else {
      y.dims[y.rank++] = c.d;
    }
    ForwardSpec f{OpCode::Embedding,
                  a,
                  {randomFloats({c.rows, c.d}), ids},
                  {HostTensor(DType::f32, y)}};
    HostTensor w = projectionFor(f);
    SCOPED_TRACE(c.name);
    auto grads = expectVariantsAgree(OpCode::EmbeddingGrad, a, {ids, w},
                                     {HostTensor(DType::f32, {c.rows, c.d})},
                                     1e-5, 1e-6);
    expectGradient(f, w, 0, grads[0], 1e-2, c.name);
  }
}

TEST(EmbeddingGrad, RejectsIdsOutsideTheTable) {
  std::vector<HostTensor> out = {HostTensor(DType::f32, {5, 2})};
  Status s =
      runKernel(OpCode::EmbeddingGrad, KernelVariant::Optimized, attrs({}),
                {ints(DType::i64, {3}, {0, 5, 1}), randomFloats({3, 2})}, out);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(
      s.message().find("id 5 at position 1 is outside the table's 5 rows"),
      std::string::npos)
      << s.message();
}

} // namespace
