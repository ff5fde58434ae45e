//===- MultiOptimizerTest.cpp - MultiAdamWUpdate, MultiSgdUpdate ---------===//
//
// The multi-tensor updates (plan 1.2) against what they replace: GlobalNorm
// of the gradients, then one AdamWUpdate (SgdUpdate) per parameter, run by
// the same variant. Equality is exact, for every thread count, for tensors
// in separate buffers and laid out flat (as the parameter store does), with
// odd sizes and sizes around the kernels' chunk of 16384 elements.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

#include <cstring>

using namespace onerec::kernels::test;
namespace runtime = onerec::runtime;

namespace {

/// n tensors of each stream (params, grads, then state), either each in
/// its own buffer or all of a stream back to back in one buffer.
struct Streams {
  std::vector<Shape> shapes;
  int streams;
  bool flat;
  /// storage[s][i] (separate) or storage[s][0] (flat).
  std::vector<std::vector<std::vector<float>>> storage;

  Streams(std::vector<Shape> tensorShapes, int numStreams, bool flatLayout)
      : shapes(std::move(tensorShapes)), streams(numStreams), flat(flatLayout) {
    storage.resize(size_t(streams));
    int64_t total = 0;
    for (const Shape &s : shapes)
      total += s.numel();
    for (int s = 0; s < streams; ++s) {
      if (flat) {
        storage[size_t(s)].push_back(std::vector<float>(size_t(total)));
        continue;
      }
      for (const Shape &shape : shapes)
        storage[size_t(s)].push_back(std::vector<float>(size_t(shape.numel())));
    }
  }
  float *data(int s, size_t i) {
    if (!flat)
      return storage[size_t(s)][i].data();
    int64_t offset = 0;
    for (size_t j = 0; j < i; ++j)
      offset += shapes[j].numel();
    return storage[size_t(s)][0].data() + offset;
  }
  TensorView view(int s, size_t i) {
    TensorView v;
    v.dtype = DType::f32;
    v.shape = shapes[i];
    v.data = data(s, i);
    return v;
  }
  /// Fills stream s with values in [lo, hi).
  void fill(int s, float lo, float hi) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      HostTensor r = randomFloats(shapes[i], lo, hi);
      std::memcpy(data(s, i), r.data<float>(),
                  size_t(shapes[i].numel()) * sizeof(float));
    }
  }
  /// Copies every stream of `other` (same shapes, any layout).
  void copyFrom(Streams &other) {
    for (int s = 0; s < streams; ++s)
      for (size_t i = 0; i < shapes.size(); ++i)
        std::memcpy(data(s, i), other.data(s, i),
                    size_t(shapes[i].numel()) * sizeof(float));
  }
  bool sameBits(Streams &other) {
    for (int s = 0; s < streams; ++s)
      for (size_t i = 0; i < shapes.size(); ++i)
        if (std::memcmp(data(s, i), other.data(s, i),
                        size_t(shapes[i].numel()) * sizeof(float)))
          return false;
    return true;
  }
};

Status call(OpCode op, KernelVariant variant, const KernelAttrs &attributes,
            std::vector<TensorView> in, std::vector<TensorView> out,
            runtime::ThreadPool &pool) {
  runtime::KernelFn fn = runtime::defaultKernelRegistry().find(
      op, in.at(0).dtype, runtime::Device::Cpu, variant);
  if (!fn)
    return Status::error(Status::Code::NotFound, "no kernel");
  runtime::KernelContext context;
  context.pool = &pool;
  runtime::KernelCall c;
  c.inputs = in.data();
  c.numInputs = int(in.size());
  c.outputs = out.data();
  c.numOutputs = int(out.size());
  c.attrs = &attributes;
  c.context = &context;
  c.location = "test.rdsl:1:1";
  return fn(c);
}

TensorView scalarView(HostTensor &t) { return t.view(); }

struct Case {
  bool adam;
  bool decoupled;
  double clip, momentum, nesterov;
};

/// Runs `steps` updates unfused (GlobalNorm, then one update per parameter)
/// and fused, and expects the same parameters, state and norms bit for bit.
void expectFusedEqualsUnfused(const Case &c, KernelVariant variant,
                              unsigned threads, bool flat) {
  std::vector<Shape> shapes = {{3, 5},  {16384},     {1},
                               {16385}, {7, 11, 13}, {40000}};
  std::vector<int64_t> decay = {1, 0, 0, 1, 1, 0};
  int streams = c.adam ? 4 : 3;
  size_t n = shapes.size();
  Streams unfused(shapes, streams, false), fused(shapes, streams, flat);
  unfused.fill(0, -1, 1);
  for (int s = 2; s < streams; ++s)
    unfused.fill(s, 0, 0.5); // state from an earlier step
  fused.copyFrom(unfused);
  runtime::ThreadPool pool(threads);
  KernelAttrs multiAttrs =
      c.adam ? attrs({{"decay", decay}, {"decoupled", int64_t(c.decoupled)}})
             : attrs({{"decay", decay}});
  for (int64_t step = 1; step <= 3; ++step) {
    unfused.fill(1, -2, 2);
    for (size_t i = 0; i < n; ++i)
      std::memcpy(fused.data(1, i), unfused.data(1, i),
                  size_t(shapes[i].numel()) * sizeof(float));
    HostTensor st = ints(DType::i64, {}, {step});
    HostTensor hp = floats({8}, {1e-2f, c.adam ? 0.9f : float(c.momentum),
                                 c.adam ? 0.95f : float(c.nesterov), 1e-8f,
                                 0.1f, float(c.clip), 0.5f, 0.0f});
    HostTensor norm(DType::f32, {}), fusedNorm(DType::f32, {});

    std::vector<TensorView> grads;
    for (size_t i = 0; i < n; ++i)
      grads.push_back(unfused.view(1, i));
    ASSERT_TRUE(call(OpCode::GlobalNorm, variant, attrs({}), grads,
                     {scalarView(norm)}, pool)
                    .isOk());
    for (size_t i = 0; i < n; ++i) {
      std::vector<TensorView> in = {unfused.view(0, i), unfused.view(1, i)};
      for (int s = 2; s < streams; ++s)
        in.push_back(unfused.view(s, i));
      in.push_back(st.view());
      in.push_back(hp.view());
      in.push_back(norm.view());
      KernelAttrs one = c.adam ? attrs({{"decay", decay[i]},
                                        {"decoupled", int64_t(c.decoupled)}})
                               : attrs({{"decay", decay[i]}});
      Status s = call(c.adam ? OpCode::AdamWUpdate : OpCode::SgdUpdate, variant,
                      one, in, {}, pool);
      ASSERT_TRUE(s.isOk()) << s.toString();
    }

    std::vector<TensorView> in;
    for (int s = 0; s < streams; ++s)
      for (size_t i = 0; i < n; ++i)
        in.push_back(fused.view(s, i));
    in.push_back(st.view());
    in.push_back(hp.view());
    Status s = call(c.adam ? OpCode::MultiAdamWUpdate : OpCode::MultiSgdUpdate,
                    variant, multiAttrs, in, {scalarView(fusedNorm)}, pool);
    ASSERT_TRUE(s.isOk()) << s.toString();
    ASSERT_EQ(std::memcmp(norm.data<float>(), fusedNorm.data<float>(), 4), 0)
        << "step " << step;
    ASSERT_TRUE(fused.sameBits(unfused))
        << "step " << step << " threads " << threads << " flat " << flat;
  }
}

TEST(MultiOptimizers, AdamWEqualsUnfusedExactly) {
  for (Case c : {Case{true, true, 0, 0, 0}, Case{true, false, 0, 0, 0},
                 Case{true, true, 0.5, 0, 0}})
    for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized})
      for (unsigned threads : {1u, 2u, 3u})
        for (bool flat : {false, true})
          expectFusedEqualsUnfused(c, v, threads, flat);
}

TEST(MultiOptimizers, SgdEqualsUnfusedExactly) {
  for (Case c : {Case{false, false, 0, 0, 0}, Case{false, false, 0, 0.9, 0},
                 Case{false, false, 0.5, 0.9, 1}})
    for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized})
      for (unsigned threads : {1u, 2u, 3u})
        for (bool flat : {false, true})
          expectFusedEqualsUnfused(c, v, threads, flat);
}

TEST(MultiOptimizers, RejectsBadOperands) {
  runtime::ThreadPool pool(1);
  HostTensor p = randomFloats({4}), g = randomFloats({4}),
             m = randomFloats({4}), v = randomFloats({4}),
             shortG = randomFloats({3});
  HostTensor st = ints(DType::i64, {}, {1}), st0 = ints(DType::i64, {}, {0});
  HostTensor hp = floats({8}, {1e-2f, 0.9f, 0.95f, 1e-8f, 0, 0, 1, 0});
  HostTensor norm(DType::f32, {});
  KernelAttrs a =
      attrs({{"decay", std::vector<int64_t>{1}}, {"decoupled", int64_t(1)}});
  auto expectError = [&](std::vector<TensorView> in, const KernelAttrs &at,
                         const std::string &message) {
    for (KernelVariant variant :
         {KernelVariant::Reference, KernelVariant::Optimized}) {
      Status s =
          call(OpCode::MultiAdamWUpdate, variant, at, in, {norm.view()}, pool);
      EXPECT_FALSE(s.isOk());
      EXPECT_NE(s.toString().find(message), std::string::npos) << s.toString();
    }
  };
  expectError({p.view(), g.view(), m.view(), st.view(), hp.view()}, a,
              "expected 4 segments of equal length");
  expectError(
      {p.view(), shortG.view(), m.view(), v.view(), st.view(), hp.view()}, a,
      "must match parameter 0");
  expectError({p.view(), g.view(), m.view(), v.view(), st.view(), hp.view()},
              attrs({{"decay", std::vector<int64_t>{1, 0}}}),
              "2 decay flags for 1 parameters");
  expectError({p.view(), g.view(), m.view(), v.view(), st0.view(), hp.view()},
              a, "updates are numbered from 1");
}

} // namespace
