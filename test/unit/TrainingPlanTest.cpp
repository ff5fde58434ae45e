//===- TrainingPlanTest.cpp - format 1.1: training entries and state ------===//
//
// The loader's checks of training plans (in-place optimizer ops only in
// TrainStep entries and only on parameters, optimizer state belonging to a
// weight, the train section), the parameter store's optimizer state and
// checkpoints, and the executor's RNG step and training mode.
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "onerec/Runtime/Executor.h"
#include "onerec/Runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <unistd.h>

using namespace onerec;
using namespace onerec::test;
using namespace onerec::runtime;

namespace {

constexpr int kStepEntry = 1;  // index of train_step in linearTrainPlan()
constexpr int kAdamKernel = 2; // its AdamWUpdate kernel

runtime::StatusOr<std::unique_ptr<PlanFile>> load(const PlanSpec &spec) {
  std::vector<uint8_t> bytes = spec.build();
  return PlanFile::fromBytes(bytes.data(), bytes.size(), "plan.fb");
}

void expectInvalid(const PlanSpec &spec, const std::string &expected) {
  auto plan = load(spec);
  ASSERT_FALSE(plan.isOk()) << "expected an error containing: " << expected;
  EXPECT_NE(plan.status().message().find(expected), std::string::npos)
      << "message: " << plan.status().message() << "\nexpected: " << expected;
}

KernelSpec &adam(PlanSpec &p) {
  return p.entries[kStepEntry].kernels[kAdamKernel];
}

TEST(TrainingPlan, ValidTrainingPlanLoads) {
  auto plan = load(linearTrainPlan());
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  EXPECT_EQ((*plan)->parameterData(1), nullptr); // state is not stored
  ASSERT_NE((*plan)->plan().train(), nullptr);
  EXPECT_EQ((*plan)->plan().train()->stages()->size(), 1u);
}

TEST(TrainingPlan, ParametersAreWrittenOnlyInTrainStepEntries) {
  PlanSpec p = linearTrainPlan();
  p.entries[kStepEntry].kind = plan::EntryKind::Def;
  p.train.reset();
  expectInvalid(p, "kernel 2 (AdamWUpdate at test.rdsl:1:1): updates "
                   "parameters in place, which only TrainStep entries may do "
                   "(this entry is Def)");
  p = linearTrainPlan();
  p.entries[kStepEntry].kind = plan::EntryKind::Grad;
  p.train.reset();
  expectInvalid(p, "this entry is Grad");
}

TEST(TrainingPlan, OnlyOptimizerOpsWriteParameters) {
  PlanSpec p = linearTrainPlan();
  // WeightGrad writing straight into the weight.
  p.entries[kStepEntry].kernels[0].outputs = {4};
  expectInvalid(p, "kernel 0 (WeightGrad at test.rdsl:1:1): result 0 is "
                   "tensor 4, which is parameter 0; only the optimizer ops");
}

TEST(TrainingPlan, InPlaceOperandsMustBeDistinctParameters) {
  PlanSpec p = linearTrainPlan();
  adam(p).inputs[2] = 7; // m = the gradient, an arena tensor
  expectInvalid(p, "operand 2 (tensor 7 'grad.w', f32[4, 3]) is written in "
                   "place, so it must be a parameter");
  p = linearTrainPlan();
  adam(p).inputs[3] = 5; // v = m
  expectInvalid(p, "operand 2 (tensor 5 'p1', f32[4, 3]) is written in place "
                   "and is also operand 3");
}

TEST(TrainingPlan, RejectsMisusedOptimizerOps) {
  PlanSpec p = linearTrainPlan();
  adam(p).inputs.pop_back();
  expectInvalid(p,
                "(AdamWUpdate at test.rdsl:1:1): has 6 operands, expected 7");
  p = linearTrainPlan();
  adam(p).inputs[6] = 0xFFFFFFFFu; // no norm: allowed
  EXPECT_TRUE(load(p).isOk());
  p = linearTrainPlan();
  adam(p).inputs[2] = 0xFFFFFFFFu;
  expectInvalid(p, "operand 2 is absent, but it is not optional");
  p = linearTrainPlan();
  adam(p).attrs.pop_back();
  expectInvalid(p, "missing attribute 'decoupled' (an integer)");
  p = linearTrainPlan();
  p.entries[kStepEntry].tensors[3].shape = {7}; // optimizer.hparams
  expectInvalid(p, "must be f32[8] (optimizer.hparams)");
  p = linearTrainPlan();
  p.entries[kStepEntry].tensors[2].dtype = DType::f32; // optimizer.step
  expectInvalid(p, "must be an integer (i32 or i64) tensor");
  p = linearTrainPlan();
  adam(p).outputs = {7};
  expectInvalid(p, "has 1 result, expected 0");
}

TEST(TrainingPlan, AssignWritesOnlyParametersOfTrainStepEntries) {
  // The optimizer step spelled with primitives (-O0): w = grad.w in place.
  PlanSpec p = linearTrainPlan();
  adam(p) = KernelSpec{};
  adam(p).op = OpCode::Assign;
  adam(p).inputs = {4, 7};
  auto plan = load(p);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  PlanSpec arena = p;
  adam(arena).inputs = {7, 4}; // writes the gradient, an arena tensor
  expectInvalid(arena, "operand 0 (tensor 7 'grad.w', f32[4, 3]) is written "
                       "in place, so it must be a parameter");
  PlanSpec wrongShape = p;
  adam(wrongShape).inputs = {4, 3}; // optimizer.hparams, f32[8]
  expectInvalid(wrongShape, "(Assign at test.rdsl:1:1)");
  PlanSpec def = p;
  def.entries[kStepEntry].kind = plan::EntryKind::Def;
  def.train.reset();
  expectInvalid(def, "kernel 2 (Assign at test.rdsl:1:1): updates parameters "
                     "in place, which only TrainStep entries may do");
}

TEST(TrainingPlan, GradientResultsMayBeAbsentWhereOptional) {
  PlanSpec p = linearTrainPlan();
  p.entries[kStepEntry].kernels[0].outputs = {0xFFFFFFFFu};
  expectInvalid(p, "(WeightGrad at test.rdsl:1:1): result 0 is absent, but "
                   "it is not optional");
  p = linearTrainPlan();
  EntrySpec &e = p.entries[0];
  Ext B = Ext::sym(0);
  uint32_t gain = e.input("gain", DType::f32, {4});
  uint32_t dx = e.tensor("dx", DType::f32, {B, 4});
  e.kernel(OpCode::LayerNormGrad, {0, gain, 0}, {dx, 0xFFFFFFFFu, 0xFFFFFFFFu},
           {{"eps", 1e-5}});
  EXPECT_TRUE(load(p).isOk());
  e.kernels.back().inputs[2] = 1; // dy [B, 3] for x [B, 4]
  expectInvalid(p, "must have the shape of operand 0");
}

TEST(TrainingPlan, ChecksGradientShapes) {
  PlanSpec p = linearTrainPlan();
  EntrySpec &e = p.entries[0];
  Ext B = Ext::sym(0);
  uint32_t ids = e.input("ids", DType::i64, {B, 2}, 10);
  uint32_t dyE = e.input("dy_emb", DType::f32, {B, 2, 3});
  uint32_t table = e.tensor("dtable", DType::f32, {10, 3});
  e.kernel(OpCode::EmbeddingGrad, {ids, dyE}, {table});
  EXPECT_TRUE(load(p).isOk()) << load(p).status().message();
  e.tensors[table].shape = {9, 3};
  expectInvalid(p, "holds ids below 10, but the table has 9 entries");
  e.tensors[table].shape = {10, 4};
  expectInvalid(p, "must have shape [B, 2, 4], the lookup's result");
}

TEST(TrainingPlan, ChecksOptimizerState) {
  PlanSpec p = linearTrainPlan();
  p.params[1].stateOf = "nope";
  expectInvalid(p, "parameter 1 ('w.adam_m'): is state of parameter 'nope', "
                   "which the plan does not have");
  p = linearTrainPlan();
  p.params[1].stateOf = "w.adam_v";
  expectInvalid(p, "is state of parameter 2 ('w.adam_v'), which is not a "
                   "weight");
  p = linearTrainPlan();
  p.params[2].shape = {3, 4};
  p.entries[kStepEntry].tensors[6].shape = {3, 4};
  expectInvalid(p, "parameter 2 ('w.adam_v'): f32[3, 4] is state of parameter "
                   "0 ('w') f32[4, 3], but the shapes differ");
  p = linearTrainPlan();
  p.params[1].init = plan::InitKind::Normal;
  expectInvalid(p, "is optimizer state initialized by Normal; it must start "
                   "from Zeros, Ones or Constant");
  p = linearTrainPlan();
  p.params[0].stateOf = "w.adam_m";
  expectInvalid(p, "parameter 0 ('w'): is a weight but names state_of");
  p = linearTrainPlan();
  p.params[1].role = static_cast<plan::ParameterRole>(5);
  expectInvalid(p, "parameter 1 ('w.adam_m'): has unknown role 5");
  p = linearTrainPlan();
  // Segment and offset of state mean nothing: any values load.
  p.params[1].segment = 99;
  p.params[1].offset = 1u << 30;
  EXPECT_TRUE(load(p).isOk());
}

TEST(TrainingPlan, ChecksTheTrainSection) {
  PlanSpec p = linearTrainPlan();
  p.train->lr = -1;
  expectInvalid(p, "plan.fb: train: lr is -1, expected a finite value in [0, "
                   "inf)");
  p = linearTrainPlan();
  p.train->beta2 = 1;
  expectInvalid(p, "train: beta2 is 1, expected a finite value in [0, 1)");
  p = linearTrainPlan();
  p.train->accumulate = 0;
  expectInvalid(p, "train: accumulate is 0, expected at least 1");
  p = linearTrainPlan();
  p.train->optimizer = static_cast<plan::OptimizerKind>(9);
  expectInvalid(p, "train: has unknown optimizer 9");
  p = linearTrainPlan();
  p.train->stages[0].entry = "nope";
  expectInvalid(p, "train stage 0 ('main'): runs entry 'nope', which the plan "
                   "does not have");
  p = linearTrainPlan();
  p.train->stages[0].entry = "train_grad";
  expectInvalid(p, "runs entry 'train_grad' of kind Grad, expected a TrainStep "
                   "entry");
  p = linearTrainPlan();
  p.train->stages.push_back(p.train->stages[0]);
  expectInvalid(p, "train stage 1 ('main'): is named twice");
  p = linearTrainPlan();
  p.train->stages.push_back({"align", "", 0, 100}); // no training entry yet
  EXPECT_TRUE(load(p).isOk()) << load(p).status().message();
  p = linearTrainPlan();
  p.entries[0].kind = static_cast<plan::EntryKind>(9);
  expectInvalid(p, "entry 'train_grad': has unknown kind 9");
  p = linearTrainPlan();
  p.entries[kStepEntry].inputs[2].role = static_cast<plan::ArgRole>(7);
  expectInvalid(p, "has unknown role 7");
}

//===----------------------------------------------------------------------===//
// ParameterStore: optimizer state and checkpoints
//===----------------------------------------------------------------------===//

std::string tempPath(const std::string &name) {
  return testing::TempDir() + "/onerec-train-" + std::to_string(getpid()) +
         "-" + name;
}

Status noKernel(const KernelCall &) { return Status::ok(); }

/// Stand-ins for the kernels of linearTrainPlan(), enough to create executors.
KernelRegistry trainRegistry() {
  KernelRegistry registry;
  for (OpCode op :
       {OpCode::WeightGrad, OpCode::GlobalNorm, OpCode::AdamWUpdate})
    registry.add(op, DType::f32, Device::Cpu, KernelVariant::Reference,
                 noKernel);
  return registry;
}

TEST(TrainingStore, OptimizerStateIsAllocatedOnlyForTraining) {
  PlanSpec spec = linearTrainPlan();
  spec.params[2].init = plan::InitKind::Constant;
  spec.params[2].initA = 0.5;
  auto plan = load(spec);
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  ParameterStore store(**plan);
  EXPECT_FALSE(store.isOptimizerState(0));
  EXPECT_TRUE(store.isOptimizerState(1));
  // Serving a training plan holds no state.
  EXPECT_EQ(store.optimizerStateBytes(), 0u);
  EXPECT_FALSE(store.isStateAllocated(1));
  EXPECT_EQ(store.view(1).data, nullptr);
  EXPECT_FALSE(store.isWritable()); // w still views the mapping
  KernelRegistry registry = trainRegistry();
  auto grad = Executor::create(**plan, "train_grad", store, registry);
  ASSERT_TRUE(grad.isOk()) << grad.status().message();
  EXPECT_EQ(store.optimizerStateBytes(), 0u); // Grad entries need none

  ASSERT_TRUE(store.makeWritable().isOk());
  EXPECT_TRUE(store.isWritable());
  EXPECT_EQ(store.optimizerStateBytes(), 2u * 12 * sizeof(float));
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(store.view(1).as<float>()[i], 0.0f);
    EXPECT_EQ(store.view(2).as<float>()[i], 0.5f);
  }
  store.view(1).as<float>()[3] = 7;
  store.view(2).as<float>()[3] = 7;
  store.resetOptimizerState(); // back to the initializer, not to zeros
  EXPECT_EQ(store.view(1).as<float>()[3], 0.0f);
  EXPECT_EQ(store.view(2).as<float>()[3], 0.5f);
}

TEST(TrainingStore, TrainStepExecutorsAllocateTheStateTheyUse) {
  auto plan = load(linearTrainPlan());
  ASSERT_TRUE(plan.isOk());
  std::string weights = tempPath("lazy-weights.safetensors");
  {
    ParameterStore source(**plan);
    ASSERT_TRUE(source.saveSafetensors(weights, {}, false).isOk());
  }
  ParameterStore store(**plan);
  ASSERT_TRUE(store.loadSafetensors(weights).isOk()); // weights now owned
  EXPECT_TRUE(store.isWritable());
  EXPECT_EQ(store.optimizerStateBytes(), 0u);
  KernelRegistry registry = trainRegistry();
  auto step = Executor::create(**plan, "train_step", store, registry);
  ASSERT_TRUE(step.isOk()) << step.status().message();
  EXPECT_TRUE(store.isStateAllocated(1));
  EXPECT_TRUE(store.isStateAllocated(2));
  EXPECT_EQ(store.view(2).as<float>()[11], 0.0f);
  std::remove(weights.c_str());
}

TEST(TrainingStore, SavingUnallocatedStateWritesItsInitialValue) {
  PlanSpec spec = linearTrainPlan();
  spec.params[2].init = plan::InitKind::Ones;
  auto plan = load(spec);
  ASSERT_TRUE(plan.isOk());
  ParameterStore store(**plan);
  std::string full = tempPath("lazy-full.safetensors");
  ASSERT_TRUE(store.saveSafetensors(full).isOk());
  EXPECT_EQ(store.optimizerStateBytes(), 0u);
  ParameterStore restored(**plan);
  CheckpointLoadReport report;
  ASSERT_TRUE(restored.loadSafetensors(full, &report).isOk());
  EXPECT_TRUE(report.stateReset.empty());
  EXPECT_EQ(restored.view(0).as<float>()[1], 0.2f);
  EXPECT_EQ(restored.view(1).as<float>()[1], 0.0f);
  EXPECT_EQ(restored.view(2).as<float>()[1], 1.0f);
  std::remove(full.c_str());
}

TEST(TrainingStore, StateThePlanLacksIsIgnored) {
  auto plan = load(linearTrainPlan());
  ASSERT_TRUE(plan.isOk());
  ParameterStore store(**plan);
  ASSERT_TRUE(store.makeWritable().isOk());
  store.view(0).as<float>()[0] = 42;
  std::string full = tempPath("extra-state.safetensors");
  ASSERT_TRUE(store.saveSafetensors(full).isOk());

  // The same weight in a plan without optimizer state (serving).
  PlanSpec serving;
  std::vector<float> w(12);
  serving.param("w", DType::f32, {4, 3}, bytesOf(w));
  auto servingPlan = load(serving);
  ASSERT_TRUE(servingPlan.isOk()) << servingPlan.status().message();
  ParameterStore served(**servingPlan);
  CheckpointLoadReport report;
  Status s = served.loadSafetensors(full, &report);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(report.stateIgnored,
            (std::vector<std::string>{"w.adam_m", "w.adam_v"}));
  EXPECT_EQ(served.view(0).as<float>()[0], 42.0f);

  // A tensor that only looks like state (of no plan weight) is refused.
  HostTensor other(DType::f32, {2});
  HostTensor wt(DType::f32, {4, 3});
  std::string odd = tempPath("odd-state.safetensors");
  ASSERT_TRUE(
      writeSafetensors(odd, {{"w", wt.view()}, {"v.adam_m", other.view()}})
          .isOk());
  Status refused = served.loadSafetensors(odd);
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.message().find("'v.adam_m'"), std::string::npos)
      << refused.message();
  std::remove(full.c_str());
  std::remove(odd.c_str());
}

TEST(TrainingStore, CheckpointsCarryStateAndWeightsOnlyOnesResetIt) {
  auto plan = load(linearTrainPlan());
  ASSERT_TRUE(plan.isOk());
  ParameterStore store(**plan);
  ASSERT_TRUE(store.makeWritable().isOk());
  store.view(0).as<float>()[0] = 42;
  store.view(1).as<float>()[1] = 1.5f;
  store.view(2).as<float>()[2] = 2.5f;
  std::string full = tempPath("full.safetensors"),
              weights = tempPath("weights.safetensors");
  ASSERT_TRUE(store.saveSafetensors(full).isOk());
  ASSERT_TRUE(store.saveSafetensors(weights, {}, false).isOk());

  ParameterStore restored(**plan);
  CheckpointLoadReport report;
  ASSERT_TRUE(restored.loadSafetensors(full, &report).isOk());
  EXPECT_TRUE(report.stateReset.empty());
  EXPECT_EQ(restored.view(0).as<float>()[0], 42.0f);
  EXPECT_EQ(restored.view(1).as<float>()[1], 1.5f);
  EXPECT_EQ(restored.view(2).as<float>()[2], 2.5f);
  EXPECT_TRUE(restored.isWritable());

  // A weights-only checkpoint: the state restarts from zeros.
  ASSERT_TRUE(restored.loadSafetensors(weights, &report).isOk());
  EXPECT_EQ(report.stateReset,
            (std::vector<std::string>{"w.adam_m", "w.adam_v"}));
  EXPECT_EQ(restored.view(0).as<float>()[0], 42.0f);
  EXPECT_EQ(restored.view(1).as<float>()[1], 0.0f);
  EXPECT_EQ(restored.view(2).as<float>()[2], 0.0f);
  std::remove(full.c_str());
  std::remove(weights.c_str());
}

//===----------------------------------------------------------------------===//
// Executor: RNG step and training mode
//===----------------------------------------------------------------------===//

/// Copy's stand-in: writes the call's RNG step and training flag.
Status recordContext(const KernelCall &call) {
  call.out(0).as<float>()[0] = float(call.context->step);
  call.out(0).as<float>()[1] = call.context->training ? 1.0f : 0.0f;
  return Status::ok();
}

PlanSpec contextPlan(plan::EntryKind kind) {
  PlanSpec p;
  p.formatMinor = 1;
  EntrySpec &e = p.entry("probe");
  e.kind = kind;
  uint32_t x = e.input("x", DType::f32, {2});
  uint32_t y = e.tensor("y", DType::f32, {2});
  e.kernel(OpCode::Copy, {x}, {y});
  e.output("y", y);
  return p;
}

TEST(TrainingExecutor, StepsAndTrainingModeFollowTheEntry) {
  KernelRegistry registry;
  registry.add(OpCode::Copy, DType::f32, Device::Cpu, KernelVariant::Reference,
               recordContext);
  HostTensor x(DType::f32, {2});
  for (auto [kind, training] : {std::pair{plan::EntryKind::Def, false},
                                std::pair{plan::EntryKind::Grad, true}}) {
    auto plan = load(contextPlan(kind));
    ASSERT_TRUE(plan.isOk()) << plan.status().message();
    ParameterStore store(**plan);
    auto executor = Executor::create(**plan, "probe", store, registry);
    ASSERT_TRUE(executor.isOk()) << executor.status().message();
    Executor &ex = **executor;
    EXPECT_EQ(ex.training(), training);
    auto run = [&] {
      auto out = ex.run({{"x", x.view()}});
      EXPECT_TRUE(out.isOk());
      return std::pair{(*out)[0].tensor.as<float>()[0],
                       (*out)[0].tensor.as<float>()[1]};
    };
    EXPECT_EQ(run(), (std::pair{0.0f, training ? 1.0f : 0.0f}));
    EXPECT_EQ(run().first, 1.0f);
    ex.setStep(1000);
    EXPECT_EQ(ex.step(), 1000u);
    EXPECT_EQ(run().first, 1000.0f);
    EXPECT_EQ(ex.step(), 1001u);
    // Forced either way.
    ExecutorOptions options;
    options.training = !training;
    auto forced = Executor::create(**plan, "probe", store, registry, options);
    ASSERT_TRUE(forced.isOk());
    EXPECT_EQ((*forced)->training(), !training);
  }
}

} // namespace

namespace {

TEST(TrainingPlan, AttentionGradHasADbiasResultExactlyWithABias) {
  PlanSpec p = linearTrainPlan();
  EntrySpec &e = p.entries[0];
  Ext B = Ext::sym(0);
  uint32_t q = e.input("q", DType::f32, {B, 5, 8});
  uint32_t bias = e.input("bias", DType::f32, {1, 2, 5, 5}); // per head
  uint32_t dq = e.tensor("dq", DType::f32, {B, 5, 8});
  uint32_t dk = e.tensor("dk", DType::f32, {B, 5, 8});
  uint32_t dv = e.tensor("dv", DType::f32, {B, 5, 8});
  uint32_t db = e.tensor("dbias", DType::f32, {1, 2, 5, 5});
  std::vector<AttrSpec> a = {
      {"num_heads", int64_t(2)}, {"num_kv_heads", int64_t(2)}, {"scale", 0.5}};
  e.kernel(OpCode::AttentionGrad, {q, q, q, 0xFFFFFFFFu, bias, q},
           {dq, dk, dv, db}, a);
  EXPECT_TRUE(load(p).isOk()) << load(p).status().message();
  e.kernels.back().outputs = {dq, dk, dv, 0xFFFFFFFFu}; // dbias not needed
  EXPECT_TRUE(load(p).isOk());
  e.kernels.back().outputs = {dq, dk, dv};
  expectInvalid(p, "has 3 results, expected 4 (dq, dk, dv, dbias: the bias "
                   "is given)");
  e.kernels.back().inputs[4] = 0xFFFFFFFFu;
  EXPECT_TRUE(load(p).isOk());
  e.kernels.back().outputs = {dq, dk, dv, db};
  expectInvalid(p, "has 4 results, expected 3 (dq, dk, dv: no bias is given)");
  e.kernels.back().outputs = {dq, dk};
  expectInvalid(p, "has 2 results, expected 3 or 4");
}

} // namespace
