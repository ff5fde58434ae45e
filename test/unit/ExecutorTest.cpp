//===- ExecutorTest.cpp - binding inputs, running entries, weights --------===//
//
// Plans from TestPlans.h run end to end on the tiny test kernels; each input
// binding error names the input and position; checkpoints load only when
// they match the plan exactly.
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "onerec/Runtime/Executor.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <unistd.h>

using namespace onerec;
using namespace onerec::test;
using namespace onerec::runtime;

namespace {

/// A loaded plan with its parameter store.
struct Loaded {
  std::unique_ptr<PlanFile> plan;
  std::unique_ptr<ParameterStore> params;
};

Loaded loadSpec(const PlanSpec &spec) {
  std::vector<uint8_t> bytes = spec.build();
  auto plan = PlanFile::fromBytes(bytes.data(), bytes.size(), "plan.fb");
  EXPECT_TRUE(plan.isOk()) << plan.status().message();
  Loaded loaded{std::move(plan.value()), nullptr};
  loaded.params = std::make_unique<ParameterStore>(*loaded.plan);
  return loaded;
}

HostTensor floats(Shape shape, std::vector<float> values) {
  HostTensor t(DType::f32, shape);
  std::copy(values.begin(), values.end(), t.as<float>());
  return t;
}

HostTensor ids(Shape shape, std::vector<int64_t> values) {
  HostTensor t(DType::i64, shape);
  std::copy(values.begin(), values.end(), t.as<int64_t>());
  return t;
}

/// A file name under the test's temporary directory.
std::string tempPath(const std::string &name) {
  return testing::TempDir() + "/onerec-" + std::to_string(getpid()) + "-" +
         name;
}

class LinearExecutor : public testing::Test {
protected:
  void SetUp() override {
    loaded_ = loadSpec(linearPlan());
    auto executor =
        Executor::create(*loaded_.plan, "forward", *loaded_.params, registry_);
    ASSERT_TRUE(executor.isOk()) << executor.status().message();
    executor_ = std::move(executor.value());
  }

  /// Runs with the given inputs and returns the error message ("" on success).
  std::string runError(const std::vector<NamedTensorView> &inputs) {
    auto outputs = executor_->run(inputs);
    return outputs.isOk() ? std::string() : outputs.status().message();
  }

  KernelRegistry registry_ = testKernelRegistry();
  Loaded loaded_;
  std::unique_ptr<Executor> executor_;
};

TEST_F(LinearExecutor, ComputesTheEntryForEveryBatchSize) {
  for (int64_t batch : {1, 3, 8}) {
    std::vector<float> values(size_t(batch * 4));
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = float(i % 4); // every row is [0, 1, 2, 3]
    HostTensor x = floats({batch, 4}, values);
    auto outputs = executor_->run({{"x", x.view()}});
    ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
    ASSERT_EQ(outputs->size(), 1u);
    const NamedTensor &y = (*outputs)[0];
    EXPECT_EQ(y.name, "y");
    EXPECT_EQ(y.tensor.shape(), (Shape{batch, 3}));
    // y[j] = sum_i i · 0.1·(3i + j + 1) + b[j]
    for (int64_t row = 0; row < batch; ++row)
      for (int j = 0; j < 3; ++j) {
        float expected = 0;
        for (int i = 0; i < 4; ++i)
          expected += float(i) * 0.1f * float(3 * i + j + 1);
        EXPECT_NEAR(y.tensor.as<float>()[row * 3 + j], expected + float(j + 1),
                    1e-5);
      }
  }
}

TEST_F(LinearExecutor, RejectsMissingAndUnknownInputs) {
  EXPECT_EQ(runError({}), "entry 'forward': input 'x' f32[B, 4] is missing");
  HostTensor x = floats({2, 4}, std::vector<float>(8));
  EXPECT_EQ(runError({{"x", x.view()}, {"z", x.view()}}),
            "entry 'forward': unknown input 'z' (the entry takes 'x')");
  EXPECT_EQ(runError({{"x", x.view()}, {"x", x.view()}}),
            "entry 'forward': input 'x' is given twice");
}

TEST_F(LinearExecutor, RejectsWrongDTypeRankAndExtents) {
  HostTensor wrongType = ids({2, 4}, std::vector<int64_t>(8));
  EXPECT_EQ(
      runError({{"x", wrongType.view()}}),
      "entry 'forward': input 'x' is i64[2, 4], the plan needs f32[B, 4]");
  HostTensor wrongRank = floats({2, 4, 1}, std::vector<float>(8));
  EXPECT_EQ(
      runError({{"x", wrongRank.view()}}),
      "entry 'forward': input 'x' is f32[2, 4, 1], the plan needs f32[B, 4]");
  HostTensor wrongExtent = floats({2, 5}, std::vector<float>(10));
  EXPECT_EQ(runError({{"x", wrongExtent.view()}}),
            "entry 'forward': input 'x' dimension 1 is 5, the plan needs 4 "
            "(f32[B, 4])");
  HostTensor tooLarge = floats({9, 4}, std::vector<float>(36));
  EXPECT_EQ(runError({{"x", tooLarge.view()}}),
            "entry 'forward': input 'x' dimension 0 (B) is 9, outside [1, 8], "
            "the range the "
            "plan allows");
}

TEST_F(LinearExecutor, WrapsKernelErrorsWithTheKernel) {
  KernelRegistry failing;
  failing.add(
      OpCode::Matmul, DType::f32, Device::Cpu, KernelVariant::Reference,
      [](const KernelCall &call) { return call.fail("no BLAS today"); });
  failing.add(OpCode::Add, DType::f32, Device::Cpu, KernelVariant::Reference,
              testAdd);
  auto executor =
      Executor::create(*loaded_.plan, "forward", *loaded_.params, failing);
  ASSERT_TRUE(executor.isOk());
  HostTensor x = floats({1, 4}, std::vector<float>(4));
  auto outputs = (*executor)->run({{"x", x.view()}});
  ASSERT_FALSE(outputs.isOk());
  EXPECT_EQ(outputs.status().message(),
            "plan.fb: entry 'forward' kernel 0 (Matmul at linear.rdsl:3:7): no "
            "BLAS today");
}

TEST(Executor, ReportsMissingEntriesAndKernels) {
  Loaded loaded = loadSpec(linearPlan());
  KernelRegistry registry = testKernelRegistry();
  auto missing =
      Executor::create(*loaded.plan, "train", *loaded.params, registry);
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().message(),
            "plan.fb: no entry 'train' (the plan has 'forward')");

  KernelRegistry empty;
  auto noKernels =
      Executor::create(*loaded.plan, "forward", *loaded.params, empty);
  ASSERT_FALSE(noKernels.isOk());
  EXPECT_EQ(noKernels.status().code(), Status::Code::Unsupported);
  EXPECT_EQ(noKernels.status().message(),
            "plan.fb: entry 'forward' needs CPU kernels this build does not "
            "have: Add on f32, "
            "Matmul on f32");

  ExecutorOptions optimizedOnly;
  optimizedOnly.variant = KernelVariant::Optimized;
  auto forced = Executor::create(*loaded.plan, "forward", *loaded.params,
                                 registry, optimizedOnly);
  ASSERT_FALSE(forced.isOk());
  EXPECT_NE(forced.status().message().find("(optimized variant)"),
            std::string::npos);
}

TEST(Executor, BindsSymbolsConsistentlyAcrossInputs) {
  PlanSpec p;
  Ext B = p.dim("B", 4);
  EntrySpec &e = p.entry("sum");
  uint32_t a = e.input("a", DType::f32, {B, 2});
  uint32_t b = e.input("b", DType::f32, {B, 2});
  uint32_t y = e.tensor("y", DType::f32, {B, 2});
  e.kernel(OpCode::Add, {a, b}, {y});
  e.output("y", y);
  Loaded loaded = loadSpec(p);
  KernelRegistry registry = testKernelRegistry();
  auto executor =
      Executor::create(*loaded.plan, "sum", *loaded.params, registry);
  ASSERT_TRUE(executor.isOk());
  HostTensor two = floats({2, 2}, {1, 2, 3, 4}),
             three = floats({3, 2}, std::vector<float>(6));
  auto inconsistent =
      (*executor)->run({{"a", two.view()}, {"b", three.view()}});
  ASSERT_FALSE(inconsistent.isOk());
  EXPECT_EQ(inconsistent.status().message(),
            "entry 'sum': input 'b' dimension 0 binds B to 3, but input 'a' "
            "dimension 0 bound "
            "it to 2");
  auto sum = (*executor)->run({{"a", two.view()}, {"b", two.view()}});
  ASSERT_TRUE(sum.isOk()) << sum.status().message();
  EXPECT_EQ((*sum)[0].tensor.as<float>()[3], 8.0f);
}

TEST(Executor, ViewsAnInputUnderAnotherShape) {
  // A reshape is no kernel: tensor 1 views input 0's bytes as [B, 2, 2].
  PlanSpec p;
  Ext B = p.dim("B", 4);
  EntrySpec &e = p.entry("double");
  uint32_t x = e.input("x", DType::f32, {B, 4});
  e.tensors.push_back(e.tensors[x]);
  e.tensors.back().name = "x.view";
  e.tensors.back().shape = {B, 2, 2};
  uint32_t view = static_cast<uint32_t>(e.tensors.size() - 1);
  uint32_t y = e.tensor("y", DType::f32, {B, 2, 2});
  e.kernel(OpCode::Add, {view, view}, {y});
  e.output("y", y);
  Loaded loaded = loadSpec(p);
  KernelRegistry registry = testKernelRegistry();
  auto executor =
      Executor::create(*loaded.plan, "double", *loaded.params, registry);
  ASSERT_TRUE(executor.isOk()) << executor.status().message();
  HostTensor input = floats({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto outputs = (*executor)->run({{"x", input.view()}});
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  EXPECT_EQ((*outputs)[0].tensor.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ((*outputs)[0].tensor.as<float>()[7], 16.0f);
}

TEST(Executor, TrainStepsWriteParametersOnlyInAWritableStore) {
  // b += delta in a TrainStep entry: the store must be writable, and the
  // plan's mapping stays untouched.
  PlanSpec p = linearPlan();
  p.formatMinor = 1;
  EntrySpec &e = p.entries[0];
  e.kind = plan::EntryKind::TrainStep;
  uint32_t delta = e.input("delta", DType::f32, {3});
  e.kernel(OpCode::AssignAdd, {2, delta}, {});
  Loaded loaded = loadSpec(p);
  KernelRegistry registry = testKernelRegistry();
  auto readOnly =
      Executor::create(*loaded.plan, "forward", *loaded.params, registry);
  ASSERT_FALSE(readOnly.isOk());
  EXPECT_NE(
      readOnly.status().message().find("the parameter store is read-only (call "
                                       "ParameterStore::makeWritable() first)"),
      std::string::npos)
      << readOnly.status().message();
  ASSERT_TRUE(loaded.params->makeWritable().isOk());
  EXPECT_TRUE(loaded.params->isWritable());
  auto executor =
      Executor::create(*loaded.plan, "forward", *loaded.params, registry);
  ASSERT_TRUE(executor.isOk()) << executor.status().message();
  EXPECT_TRUE((*executor)->training());
  HostTensor x = floats({1, 4}, std::vector<float>(4));
  HostTensor d = floats({3}, {1, 2, 4});
  ASSERT_TRUE((*executor)->run({{"x", x.view()}, {"delta", d.view()}}).isOk());
  ASSERT_TRUE((*executor)->run({{"x", x.view()}, {"delta", d.view()}}).isOk());
  EXPECT_EQ(loaded.params->view(1).as<float>()[2], 11.0f); // 3 + 2·4
  EXPECT_EQ(reinterpret_cast<const float *>(loaded.plan->parameterData(1))[2],
            3.0f);
}

TEST(Executor, ChecksIdsAgainstTheirBound) {
  Loaded loaded = loadSpec(embeddingPlan());
  KernelRegistry registry = testKernelRegistry();
  auto executor =
      Executor::create(*loaded.plan, "forward", *loaded.params, registry);
  ASSERT_TRUE(executor.isOk()) << executor.status().message();
  HostTensor good = ids({1, 5}, {0, 1, 2, 9, 3});
  auto outputs = (*executor)->run({{"ids", good.view()}});
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  EXPECT_EQ((*outputs)[0].tensor.shape(), (Shape{1, 5, 4}));
  EXPECT_EQ((*outputs)[0].tensor.as<float>()[3 * 4 + 1],
            37.0f); // table row 9, column 1
  HostTensor bad = ids({2, 5}, {0, 1, 2, 3, 4, 5, 6, 7, 10, 9});
  auto rejected = (*executor)->run({{"ids", bad.view()}});
  ASSERT_FALSE(rejected.isOk());
  EXPECT_EQ(rejected.status().message(),
            "entry 'forward': input 'ids' element [1, 3] is 10, outside the "
            "ids [0, 10)");
  HostTensor negative = ids({1, 5}, {0, -1, 0, 0, 0});
  EXPECT_FALSE((*executor)->run({{"ids", negative.view()}}).isOk());
}

TEST(Executor, RejectsDimsBelowTheirMinimum) {
  PlanSpec p;
  Ext N = p.dim("N", 16);
  EntrySpec &e = p.entry("top");
  uint32_t x = e.input("x", DType::f32, {N});
  uint32_t v = e.tensor("v", DType::f32, {3});
  e.kernel(OpCode::TopK, {x}, {v, e.tensor("i", DType::i64, {3})},
           {{"k", int64_t(3)}});
  e.output("v", v);
  Loaded loaded = loadSpec(p);
  KernelRegistry registry;
  registry.add(OpCode::TopK, DType::f32, Device::Cpu, KernelVariant::Reference,
               [](const KernelCall &) { return Status::ok(); });
  auto executor =
      Executor::create(*loaded.plan, "top", *loaded.params, registry);
  ASSERT_TRUE(executor.isOk());
  HostTensor two = floats({2}, {1, 2});
  auto outputs = (*executor)->run({{"x", two.view()}});
  ASSERT_FALSE(outputs.isOk());
  EXPECT_EQ(outputs.status().message(),
            "entry 'top': input 'x' dimension 0 (N) is 2, outside [3, 16], the "
            "range the plan "
            "allows");
}

TEST(Executor, ProfilesKernelsByOp) {
  Loaded loaded = loadSpec(linearPlan());
  KernelRegistry registry = testKernelRegistry();
  ExecutorOptions options;
  options.profile = true;
  auto executor = Executor::create(*loaded.plan, "forward", *loaded.params,
                                   registry, options);
  ASSERT_TRUE(executor.isOk());
  HostTensor x = floats({2, 4}, std::vector<float>(8));
  ASSERT_TRUE((*executor)->run({{"x", x.view()}}).isOk());
  ASSERT_TRUE((*executor)->run({{"x", x.view()}}).isOk());
  std::vector<OpProfile> profile = (*executor)->profile();
  ASSERT_EQ(profile.size(), 2u);
  for (const OpProfile &p : profile)
    EXPECT_EQ(p.calls, 2u);
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

TEST(ParameterStore, ViewsThePlanThenLoadsACheckpoint) {
  Loaded loaded = loadSpec(linearPlan());
  ParameterStore &params = *loaded.params;
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params.name(1), "linear.b");
  EXPECT_FALSE(params.isWritable());
  EXPECT_EQ(params.view(1).as<float>()[2], 3.0f);

  HostTensor w = floats({4, 3}, std::vector<float>(12, 0.5f));
  HostTensor b = floats({3}, {10, 20, 30});
  std::string path = tempPath("ckpt.safetensors");
  ASSERT_TRUE(
      writeSafetensors(path, {{"linear.w", w.view()}, {"linear.b", b.view()}})
          .isOk());
  ASSERT_TRUE(params.loadSafetensors(path).isOk());
  EXPECT_TRUE(params.isWritable());
  EXPECT_EQ(params.view(1).as<float>()[2], 30.0f);

  std::string saved = tempPath("saved.safetensors");
  ASSERT_TRUE(params.saveSafetensors(saved, {{"format", "pt"}}).isOk());
  auto file = SafetensorsFile::open(saved);
  ASSERT_TRUE(file.isOk()) << file.status().message();
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  const SafetensorsEntry *entry = (*file)->find("linear.w");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->shape, (Shape{4, 3}));
  std::remove(path.c_str());
  std::remove(saved.c_str());
}

TEST(ParameterStore, RejectsCheckpointsThatDoNotMatch) {
  Loaded loaded = loadSpec(linearPlan());
  HostTensor w = floats({4, 3}, std::vector<float>(12));
  HostTensor wrongShape = floats({3, 4}, std::vector<float>(12));
  HostTensor b = floats({3}, {1, 2, 3});
  std::string path = tempPath("bad.safetensors");

  ASSERT_TRUE(writeSafetensors(path, {{"linear.w", w.view()}}).isOk());
  Status missing = loaded.params->loadSafetensors(path);
  EXPECT_NE(missing.message().find("parameter 'linear.b' f32[3] is missing"),
            std::string::npos)
      << missing.message();

  ASSERT_TRUE(writeSafetensors(path, {{"linear.w", wrongShape.view()},
                                      {"linear.b", b.view()}})
                  .isOk());
  Status shape = loaded.params->loadSafetensors(path);
  EXPECT_NE(shape.message().find(
                "parameter 'linear.w' is f32[3, 4] in the file, but the plan "
                "needs f32[4, 3]"),
            std::string::npos)
      << shape.message();

  ASSERT_TRUE(writeSafetensors(path, {{"linear.w", w.view()},
                                      {"linear.b", b.view()},
                                      {"extra.a", b.view()},
                                      {"extra.b", b.view()}})
                  .isOk());
  Status extra = loaded.params->loadSafetensors(path);
  EXPECT_NE(extra.message().find(
                "2 tensors the plan does not have: 'extra.a', 'extra.b'"),
            std::string::npos)
      << extra.message();
  // Nothing changed.
  EXPECT_FALSE(loaded.params->isWritable());
  std::remove(path.c_str());
}

} // namespace
