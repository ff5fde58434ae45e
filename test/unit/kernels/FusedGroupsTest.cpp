//===- FusedGroupsTest.cpp - the Fused kernel's tile interpreter ----------===//
//
// Programs built by hand against the unfused kernels they replace: every
// instruction, every operand kind, reductions, norms and softmax written as
// programs, odd sizes, the reference variant, bit-identical results for 1, 2
// and 3 threads, and malformed programs rejected with a message.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

#include "onerec/Runtime/FusedProgram.h"
#include "onerec/Runtime/ThreadPool.h"

using namespace onerec;
using namespace onerec::kernels;
using namespace onerec::kernels::test;
using plan::FusedKind;
using plan::FusedOpKind;

namespace {

/// Builds a FusedProgram; registers are numbered as instructions are added.
class Program {
public:
  explicit Program(std::vector<FusedKind> inputs)
      : inputs_(std::move(inputs)) {}

  uint16_t load(uint16_t operand) {
    return add(FusedOpKind::Load, inputs_.at(operand), operand, 0, 0);
  }
  uint16_t constant(double value) {
    return add(FusedOpKind::Const, FusedKind::Scalar, 0, 0, 0, value);
  }
  uint16_t unary(FusedOpKind op, uint16_t a) {
    return add(op, kinds_.at(a), a, 0, 0);
  }
  uint16_t binary(FusedOpKind op, uint16_t a, uint16_t b, uint8_t pred = 0) {
    return add(op, runtime::combineFusedKinds(kinds_.at(a), kinds_.at(b)), a, b,
               0, 0.0, pred);
  }
  uint16_t select(uint16_t c, uint16_t a, uint16_t b) {
    FusedKind k = runtime::combineFusedKinds(
        runtime::combineFusedKinds(kinds_.at(c), kinds_.at(a)), kinds_.at(b));
    return add(FusedOpKind::Select, k, c, a, b);
  }
  uint16_t reduce(FusedOpKind op, uint16_t a) {
    return add(op, FusedKind::Row, a, 0, 0);
  }
  void output(uint16_t reg) {
    outputs_.push_back(reg);
    outputKinds_.push_back(kinds_.at(reg));
  }
  /// Overrides an instruction field, for malformed programs.
  plan::FusedInstr &instruction(size_t i) { return code_.at(i); }
  void setRegisters(uint16_t n) { registers_ = n; }

  const plan::FusedProgram *finish() {
    fbb_.Clear();
    fbb_.Finish(plan::CreateFusedProgramDirect(
        fbb_, &inputs_, registers_ ? registers_ : uint16_t(kinds_.size()),
        &code_, &outputs_, &outputKinds_));
    return flatbuffers::GetRoot<plan::FusedProgram>(fbb_.GetBufferPointer());
  }

private:
  uint16_t add(FusedOpKind op, FusedKind kind, uint16_t a, uint16_t b,
               uint16_t c, double value = 0, uint8_t pred = 0) {
    uint16_t dst = uint16_t(kinds_.size());
    kinds_.push_back(kind);
    code_.emplace_back(op, kind, pred, dst, a, b, c, value);
    return dst;
  }

  std::vector<FusedKind> inputs_;
  std::vector<FusedKind> kinds_;
  std::vector<plan::FusedInstr> code_;
  std::vector<uint16_t> outputs_;
  std::vector<FusedKind> outputKinds_;
  uint16_t registers_ = 0;
  flatbuffers::FlatBufferBuilder fbb_;
};

/// Runs the Fused kernel of `variant` with `program`.
std::vector<HostTensor>
runFused(const plan::FusedProgram *program,
         const std::vector<HostTensor> &inputs, std::vector<HostTensor> outputs,
         KernelVariant variant = KernelVariant::Optimized,
         runtime::ThreadPool *pool = nullptr) {
  RunOptions options;
  options.program = program;
  options.pool = pool;
  Status s = runKernel(OpCode::Fused, variant, KernelAttrs(), inputs, outputs,
                       options);
  EXPECT_TRUE(s) << s.message();
  return outputs;
}

/// Shapes of the domain: odd sizes, one row, one column, a rank-3 shape.
const std::vector<Shape> kShapes = {{1, 1},    {3, 7},     {17, 33},
                                    {5, 1001}, {2, 3, 65}, {9}};

Shape rowShape(Shape s) {
  s[s.rank - 1] = 1;
  return s;
}
Shape columnShape(const Shape &s) { return Shape{s.last()}; }

TEST(FusedKernels, UnaryInstructionsMatchUnfusedKernels) {
  struct Case {
    FusedOpKind fused;
    OpCode op;
    float lo, hi;
  };
  for (Case c : {Case{FusedOpKind::Neg, OpCode::Neg, -5, 5},
                 Case{FusedOpKind::Abs, OpCode::Abs, -5, 5},
                 Case{FusedOpKind::Exp, OpCode::Exp, -20, 20},
                 Case{FusedOpKind::Log, OpCode::Log, 1e-3f, 100},
                 Case{FusedOpKind::Sqrt, OpCode::Sqrt, 0, 100},
                 Case{FusedOpKind::Rsqrt, OpCode::Rsqrt, 1e-3f, 100},
                 Case{FusedOpKind::Tanh, OpCode::Tanh, -10, 10},
                 Case{FusedOpKind::Sigmoid, OpCode::Sigmoid, -30, 30},
                 Case{FusedOpKind::Silu, OpCode::Silu, -30, 30},
                 Case{FusedOpKind::Gelu, OpCode::Gelu, -10, 10},
                 Case{FusedOpKind::Relu, OpCode::Relu, -5, 5}})
    for (const Shape &s : kShapes) {
      Program p({FusedKind::Full});
      p.output(p.unary(c.fused, p.load(0)));
      const plan::FusedProgram *program = p.finish();
      HostTensor x = randomFloats(s, c.lo, c.hi);
      auto fused = runFused(program, {x}, {HostTensor(DType::f32, s)});
      auto unfused = runOptimized(c.op, {}, {x}, {HostTensor(DType::f32, s)});
      // The optimized kernels use the same formulas: identical results.
      expectClose(fused[0], unfused[0], 0, 0,
                  plan::EnumNameFusedOpKind(c.fused));
      auto ref = runFused(program, {x}, {HostTensor(DType::f32, s)},
                          KernelVariant::Reference);
      expectClose(fused[0], ref[0], 2e-6, 2e-7, "reference");
    }
}

TEST(FusedKernels, BinaryInstructionsBroadcastEveryKind) {
  struct Case {
    FusedOpKind fused;
    OpCode op;
  };
  for (Case c : {Case{FusedOpKind::Add, OpCode::Add},
                 Case{FusedOpKind::Sub, OpCode::Sub},
                 Case{FusedOpKind::Mul, OpCode::Mul},
                 Case{FusedOpKind::Div, OpCode::Div},
                 Case{FusedOpKind::Pow, OpCode::Pow},
                 Case{FusedOpKind::Maximum, OpCode::Maximum},
                 Case{FusedOpKind::Minimum, OpCode::Minimum}})
    for (const Shape &s : kShapes)
      for (FusedKind kind : {FusedKind::Full, FusedKind::Row, FusedKind::Column,
                             FusedKind::Scalar}) {
        Shape ys = kind == FusedKind::Full     ? s
                   : kind == FusedKind::Row    ? rowShape(s)
                   : kind == FusedKind::Column ? columnShape(s)
                                               : Shape{};
        // Kinds on either side: y op x as well as x op y.
        for (bool swap : {false, true}) {
          Program p({FusedKind::Full, kind});
          uint16_t x = p.load(0), y = p.load(1);
          p.output(swap ? p.binary(c.fused, y, x) : p.binary(c.fused, x, y));
          const plan::FusedProgram *program = p.finish();
          HostTensor xs = randomFloats(s, 0.5f, 2.0f),
                     yv = randomFloats(ys, 0.5f, 2.0f);
          auto fused = runFused(program, {xs, yv}, {HostTensor(DType::f32, s)});
          auto unfused = swap ? runOptimized(c.op, {}, {yv, xs},
                                             {HostTensor(DType::f32, s)})
                              : runOptimized(c.op, {}, {xs, yv},
                                             {HostTensor(DType::f32, s)});
          expectClose(fused[0], unfused[0], 1e-6, 0,
                      std::string(plan::EnumNameFusedOpKind(c.fused)) + " " +
                          plan::EnumNameFusedKind(kind));
        }
      }
}

TEST(FusedKernels, ReductionsGiveRows) {
  struct Case {
    FusedOpKind fused;
    OpCode op;
  };
  for (Case c : {Case{FusedOpKind::ReduceSum, OpCode::ReduceSum},
                 Case{FusedOpKind::ReduceMean, OpCode::ReduceMean},
                 Case{FusedOpKind::ReduceMax, OpCode::ReduceMax},
                 Case{FusedOpKind::ReduceMin, OpCode::ReduceMin}})
    for (const Shape &s : kShapes) {
      Program p({FusedKind::Full});
      p.output(p.reduce(c.fused, p.load(0)));
      const plan::FusedProgram *program = p.finish();
      HostTensor x = randomFloats(s);
      auto fused =
          runFused(program, {x}, {HostTensor(DType::f32, rowShape(s))});
      auto unfused =
          runOptimized(c.op,
                       attrs({{"axes", std::vector<int64_t>{s.rank - 1}},
                              {"keepdim", int64_t(1)}}),
                       {x}, {HostTensor(DType::f32, rowShape(s))});
      expectClose(fused[0], unfused[0], 1e-5, 1e-6,
                  plan::EnumNameFusedOpKind(c.fused));
    }
}

TEST(FusedKernels, CmpSelectAndBooleans) {
  Shape s{13, 29};
  for (uint8_t pred = 0; pred <= 5; ++pred) {
    // y = (x pred t) ? x : c, and the comparison itself as a bool result.
    Program p({FusedKind::Full, FusedKind::Column, FusedKind::Full});
    uint16_t x = p.load(0), t = p.load(1), mask = p.load(2);
    uint16_t c = p.binary(FusedOpKind::Cmp, x, t, pred);
    uint16_t both = p.binary(FusedOpKind::And, c, mask);
    uint16_t either =
        p.binary(FusedOpKind::Or, both, p.unary(FusedOpKind::Not, mask));
    p.output(p.select(either, x, p.constant(-7.5)));
    p.output(c);
    const plan::FusedProgram *program = p.finish();
    HostTensor xs = randomFloats(s), ts = randomFloats({29});
    // Equality needs equal values: copy a few.
    for (int i = 0; i < 29; i += 3)
      xs.data<float>()[i] = ts.data<float>()[i];
    HostTensor m = randomBools(s);
    auto out =
        runFused(program, {xs, ts, m},
                 {HostTensor(DType::f32, s), HostTensor(DType::bool8, s)});
    auto cmp = runOptimized(OpCode::Cmp, attrs({{"predicate", int64_t(pred)}}),
                            {xs, ts}, {HostTensor(DType::bool8, s)});
    expectClose(out[1], cmp[0], 0, 0, "cmp");
    for (int64_t i = 0; i < s.numel(); ++i) {
      bool keep =
          (cmp[0].at<uint8_t>(i) && m.at<uint8_t>(i)) || !m.at<uint8_t>(i);
      EXPECT_EQ(out[0].at<float>(i), keep ? xs.at<float>(i) : -7.5f) << i;
    }
  }
}

/// rms_norm(x + r) * gain written as a program, yielding the sum too.
Program residualRmsNorm(double eps) {
  Program p({FusedKind::Full, FusedKind::Full, FusedKind::Column});
  uint16_t s = p.binary(FusedOpKind::Add, p.load(0), p.load(1));
  uint16_t ms =
      p.reduce(FusedOpKind::ReduceMean, p.binary(FusedOpKind::Mul, s, s));
  uint16_t inv = p.unary(FusedOpKind::Rsqrt,
                         p.binary(FusedOpKind::Add, ms, p.constant(eps)));
  uint16_t y =
      p.binary(FusedOpKind::Mul, p.binary(FusedOpKind::Mul, s, inv), p.load(2));
  p.output(s);
  p.output(y);
  return p;
}

TEST(FusedKernels, ResidualRmsNormMatchesTheKernels) {
  for (const Shape &s : kShapes) {
    Program p = residualRmsNorm(1e-6);
    const plan::FusedProgram *program = p.finish();
    HostTensor a = randomFloats(s), r = randomFloats(s),
               g = randomFloats(columnShape(s), 0.5f, 1.5f);
    auto out = runFused(program, {a, r, g},
                        {HostTensor(DType::f32, s), HostTensor(DType::f32, s)});
    auto sum =
        runOptimized(OpCode::Add, {}, {a, r}, {HostTensor(DType::f32, s)});
    auto norm = runOptimized(OpCode::RmsNorm, attrs({{"eps", 1e-6}}),
                             {sum[0], g}, {HostTensor(DType::f32, s)});
    expectClose(out[0], sum[0], 0, 0, "sum");
    expectClose(out[1], norm[0], 1e-5, 1e-6, "rms_norm");
  }
}

TEST(FusedKernels, SoftmaxMatchesTheKernel) {
  for (const Shape &s : kShapes) {
    Program p({FusedKind::Full, FusedKind::Scalar});
    uint16_t x = p.binary(FusedOpKind::Mul, p.load(0), p.load(1));
    uint16_t m = p.reduce(FusedOpKind::ReduceMax, x);
    uint16_t e = p.unary(FusedOpKind::Exp, p.binary(FusedOpKind::Sub, x, m));
    p.output(
        p.binary(FusedOpKind::Div, e, p.reduce(FusedOpKind::ReduceSum, e)));
    const plan::FusedProgram *program = p.finish();
    HostTensor xs = randomFloats(s, -5, 5), scale = floats({}, {0.125f});
    auto out = runFused(program, {xs, scale}, {HostTensor(DType::f32, s)});
    auto scaled =
        runOptimized(OpCode::Mul, {}, {xs, scale}, {HostTensor(DType::f32, s)});
    auto soft =
        runOptimized(OpCode::Softmax, attrs({{"axis", int64_t(s.rank - 1)}}),
                     {scaled[0]}, {HostTensor(DType::f32, s)});
    expectClose(out[0], soft[0], 1e-5, 1e-7, "softmax");
    auto ref = runFused(program, {xs, scale}, {HostTensor(DType::f32, s)},
                        KernelVariant::Reference);
    expectClose(out[0], ref[0], 1e-5, 1e-7, "reference");
  }
}

TEST(FusedKernels, ThreadCountDoesNotChangeResults) {
  Shape s{1031, 257};
  Program p = residualRmsNorm(1e-5);
  const plan::FusedProgram *program = p.finish();
  HostTensor a = randomFloats(s), r = randomFloats(s), g = randomFloats({257});
  std::vector<std::vector<HostTensor>> results;
  for (int threads : {1, 2, 3}) {
    runtime::ThreadPool pool(threads);
    results.push_back(
        runFused(program, {a, r, g},
                 {HostTensor(DType::f32, s), HostTensor(DType::f32, s)},
                 KernelVariant::Optimized, &pool));
  }
  for (int t = 1; t < 3; ++t)
    for (int o = 0; o < 2; ++o)
      EXPECT_EQ(std::memcmp(results[0][o].data<float>(),
                            results[t][o].data<float>(), s.numel() * 4),
                0)
          << "threads " << t + 1 << " result " << o;
}

TEST(FusedKernels, MalformedProgramsAreRejected) {
  HostTensor x = randomFloats({4, 8});
  auto expectError = [&](Program &p, const std::string &needle,
                         std::vector<HostTensor> outputs) {
    RunOptions options;
    options.program = p.finish();
    Status s = runKernel(OpCode::Fused, KernelVariant::Optimized, KernelAttrs(),
                         {x}, outputs, options);
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
  };
  {
    Program p({FusedKind::Full});
    p.output(p.unary(FusedOpKind::Exp, p.load(0)));
    plan::FusedInstr &exp = p.instruction(1);
    exp = plan::FusedInstr(exp.op(), exp.kind(), exp.predicate(), exp.dst(), 5,
                           exp.b(), exp.c(), exp.value());
    expectError(p, "reads register 5 before it is written",
                {HostTensor(DType::f32, {4, 8})});
  }
  {
    Program p({FusedKind::Full});
    p.output(p.reduce(FusedOpKind::ReduceSum,
                      p.reduce(FusedOpKind::ReduceMax, p.load(0))));
    expectError(p, "reductions read a Full one",
                {HostTensor(DType::f32, {4, 1})});
  }
  {
    Program p({FusedKind::Full});
    p.output(p.unary(FusedOpKind::Exp, p.load(0)));
    p.setRegisters(1);
    expectError(p, "writes register 1, but the program has 1",
                {HostTensor(DType::f32, {4, 8})});
  }
  {
    Program p({FusedKind::Full});
    p.output(p.unary(FusedOpKind::Exp, p.load(0)));
    expectError(p, "is not a Full value", {HostTensor(DType::f32, {4, 9})});
  }
  {
    Program p({FusedKind::Full});
    p.output(p.unary(FusedOpKind::Exp, p.load(0)));
    RunOptions options; // no program
    std::vector<HostTensor> out = {HostTensor(DType::f32, {4, 8})};
    Status s = runKernel(OpCode::Fused, KernelVariant::Optimized, KernelAttrs(),
                         {x}, out, options);
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("has no program"), std::string::npos);
  }
}

} // namespace
