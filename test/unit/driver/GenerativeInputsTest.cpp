//===- GenerativeInputsTest.cpp - recognising semantic-ID training inputs -===//
//
// What onerec-run train feeds a generative model is decided from the
// entry's bindings (dtype, rank, index bound, role), not from names; these
// tests build small plans with the shapes TIGER and OneRec have and check
// the recognition, its errors, and the catalog checks. Training itself runs
// end to end in test/cli/generative_train_cli.py.
//
//===----------------------------------------------------------------------===//

#include "onerec/Data/Catalog.h"
#include "onerec/Driver/PlanInputs.h"

#include "TestPlans.h"
#include "data/DataTestUtil.h"

#include <gtest/gtest.h>

using namespace onerec::driver;
using namespace onerec::runtime;
using onerec::plan::ArgRole;
using onerec::plan::EntryKind;
using onerec::plan::OpCode;
using onerec::test::EntrySpec;
using onerec::test::PlanSpec;

namespace {

std::unique_ptr<PlanFile> open(const PlanSpec &spec) {
  std::vector<uint8_t> bytes = spec.build();
  auto plan = PlanFile::fromBytes(bytes.data(), bytes.size(), "gen.fb");
  EXPECT_TRUE(plan.isOk()) << plan.status().message();
  return plan ? std::move(*plan) : nullptr;
}

struct Shape {
  int64_t hist = 4, targets = 1, levels = 3, codebook = 16;
  int64_t historyCodebook = 0; // 0: as codebook
  bool user = true, optimizer = true, extraUser = false, extraList = false;
  bool targetRole = true;
};

/// An entry taking TIGER's inputs (user id[B], history sid[B, hist, levels],
/// target next sid[B, n, levels]) whose outputs are constants: enough for
/// the checks, which read only the bindings.
void addEntry(PlanSpec &p, onerec::test::Ext B, const std::string &name,
              EntryKind kind, const Shape &s) {
  EntrySpec &e = p.entry(name);
  e.kind = kind;
  if (s.user)
    e.input("user", DType::i64, {B});
  if (s.extraUser)
    e.input("age", DType::i64, {B}, 128);
  e.input("history", DType::i64, {B, s.hist, s.levels},
          s.historyCodebook ? s.historyCodebook : s.codebook);
  if (s.extraList)
    e.input("positive", DType::i64, {B, 8, s.levels}, s.codebook);
  e.input("next", DType::i64, {B, s.targets, s.levels}, s.codebook);
  if (s.targetRole)
    e.inputs.back().role = ArgRole::Target;
  bool train = kind == EntryKind::TrainStep;
  if (train && s.optimizer) {
    e.input("optimizer.step", DType::i64, {});
    e.input("optimizer.hparams", DType::f32, {8});
    e.inputs[e.inputs.size() - 2].role = ArgRole::Control;
    e.inputs.back().role = ArgRole::Control;
  }
  uint32_t loss = e.tensor("loss", DType::f32, {});
  e.kernel(OpCode::Constant, {}, {loss}, {{"value", 1.0}});
  e.output("loss", loss);
  if (train) {
    uint32_t norm = e.tensor("grad_norm", DType::f32, {});
    e.kernel(OpCode::Constant, {}, {norm}, {{"value", 0.0}});
    e.output("grad_norm", norm);
  }
}

std::unique_ptr<PlanFile> generativePlan(const Shape &s = {}) {
  PlanSpec p;
  p.formatMinor = 1;
  auto B = p.dim("B", 64);
  addEntry(p, B, "train_step", EntryKind::TrainStep, s);
  addEntry(p, B, "ntp", EntryKind::Loss, s);
  onerec::test::TrainSpec train;
  train.stages.push_back({"main", "train_step", 1, 0});
  p.train = train;
  return open(p);
}

TEST(GenerativeInputs, RecognisesTigersInputsByShapeAndRole) {
  auto plan = generativePlan();
  ASSERT_TRUE(plan);
  EXPECT_TRUE(takesSemanticIds(*plan, "train_step"));
  auto inputs = inspectGenerativeEntry(*plan, "train_step");
  ASSERT_TRUE(inputs.isOk()) << inputs.status().message();
  EXPECT_EQ(inputs->user, "user");
  EXPECT_EQ(inputs->history, "history");
  EXPECT_EQ(inputs->target, "next");
  EXPECT_EQ(inputs->historyLen, 4);
  EXPECT_EQ(inputs->targets, 1);
  EXPECT_EQ(inputs->levels, 3);
  EXPECT_EQ(inputs->codebook, 16);
  EXPECT_EQ(inputs->maxBatch, 64);
  EXPECT_EQ(validationLossEntry(*plan, "train_step"), "ntp");
  auto loss = inspectGenerativeEntry(*plan, "ntp", /*train=*/false);
  ASSERT_TRUE(loss.isOk()) << loss.status().message();
  EXPECT_FALSE(loss->optimizerInputs);
}

TEST(GenerativeInputs, ASessionTargetAndNoUser) {
  Shape s;
  s.targets = 5;
  s.user = false;
  auto plan = generativePlan(s);
  ASSERT_TRUE(plan);
  auto inputs = inspectGenerativeEntry(*plan, "train_step");
  ASSERT_TRUE(inputs.isOk()) << inputs.status().message();
  EXPECT_EQ(inputs->targets, 5);
  EXPECT_EQ(inputs->user, "");
}

TEST(GenerativeInputs, NextItemPlansAreNotGenerative) {
  auto plan = open(onerec::test::linearTrainPlan());
  ASSERT_TRUE(plan);
  EXPECT_FALSE(takesSemanticIds(*plan, "train_step"));
  EXPECT_FALSE(takesSemanticIds(*plan, "no_such_entry"));
}

TEST(GenerativeInputs, InputsItCannotFeedAreNamed) {
  Shape s;
  s.extraUser = true;
  s.extraList = true;
  auto plan = generativePlan(s);
  ASSERT_TRUE(plan);
  auto inputs = inspectGenerativeEntry(*plan, "train_step");
  ASSERT_FALSE(inputs.isOk());
  const std::string &m = inputs.status().message();
  EXPECT_NE(m.find("gen.fb: entry 'train_step' needs inputs 'age' "
                   "(i64[B], a second id[B]), 'positive' (i64[B, 8, 3], a "
                   "second history) that onerec-run train cannot feed"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("--catalog"), std::string::npos) << m;
}

TEST(GenerativeInputs, MissingTargetAndOptimizerAreNamed) {
  Shape s;
  s.targetRole = false; // two histories: the second is not a target
  s.optimizer = false;
  auto plan = generativePlan(s);
  ASSERT_TRUE(plan);
  auto inputs = inspectGenerativeEntry(*plan, "train_step");
  ASSERT_FALSE(inputs.isOk());
  EXPECT_NE(inputs.status().message().find("'next' (i64[B, 1, 3], a second "
                                           "history)"),
            std::string::npos)
      << inputs.status().message();
  s.targetRole = true;
  plan = generativePlan(s);
  inputs = inspectGenerativeEntry(*plan, "train_step");
  ASSERT_FALSE(inputs.isOk());
  EXPECT_EQ(inputs.status().message(),
            "gen.fb: entry 'train_step' lacks optimizer.step (i64[]), "
            "optimizer.hparams (f32[8]) that the driver needs to train a "
            "generative model");
}

TEST(GenerativeInputs, HistoryAndTargetMustShareTheCodes) {
  Shape s;
  s.historyCodebook = 32;
  auto plan = generativePlan(s);
  ASSERT_TRUE(plan);
  auto inputs = inspectGenerativeEntry(*plan, "train_step");
  ASSERT_FALSE(inputs.isOk());
  EXPECT_NE(inputs.status().message().find("other levels or codebook"),
            std::string::npos)
      << inputs.status().message();
}

TEST(GenerativeInputs, CatalogMustMatchLevelsAndCodebook) {
  auto plan = generativePlan();
  ASSERT_TRUE(plan);
  auto inputs = inspectGenerativeEntry(*plan, "train_step");
  ASSERT_TRUE(inputs.isOk());
  // Three items, 1 2 3.
  onerec::data::test::TempDir dir;
  auto dataset = onerec::data::Dataset::open(
      onerec::data::test::makeDataset(dir, "seq.txt", "1 1 2 3\n2 3 2 1\n"));
  ASSERT_TRUE(dataset.isOk()) << dataset.status().message();
  const onerec::data::Dataset &d = **dataset;
  // Two levels instead of three.
  auto twoLevels =
      onerec::data::Catalog::fromCodes(2, 16, {1, 2, 3}, {0, 1, 0, 2, 0, 3});
  ASSERT_TRUE(twoLevels.isOk());
  Status st =
      checkCatalogFits(*inputs, *plan, *twoLevels, "cat.safetensors", d);
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.message().rfind("cat.safetensors: has 2 levels of codes, but "
                               "plan gen.fb (entry 'train_step' input "
                               "'history') takes semantic IDs of 3 levels",
                               0),
            0u)
      << st.message();
  // Codes up to 31 do not fit sid<16>.
  auto wide = onerec::data::Catalog::fromCodes(3, 32, {1, 2, 3},
                                               {31, 0, 0, 1, 0, 0, 2, 0, 0});
  ASSERT_TRUE(wide.isOk());
  st = checkCatalogFits(*inputs, *plan, *wide, "cat.safetensors", d);
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("has codes below 32, but plan gen.fb"),
            std::string::npos)
      << st.message();
  // Item 3 has no semantic ID.
  auto partial =
      onerec::data::Catalog::fromCodes(3, 16, {1, 2}, {1, 0, 0, 2, 0, 0});
  ASSERT_TRUE(partial.isOk());
  st = checkCatalogFits(*inputs, *plan, *partial, "cat.safetensors", d);
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("cat.safetensors: has no semantic ID for 1 of "
                              "the 3 items"),
            std::string::npos)
      << st.message();
  // A catalog that fits (a smaller codebook is fine).
  auto good = onerec::data::Catalog::fromCodes(3, 8, {1, 2, 3},
                                               {1, 0, 0, 2, 0, 0, 3, 0, 0});
  ASSERT_TRUE(good.isOk());
  EXPECT_TRUE(
      checkCatalogFits(*inputs, *plan, *good, "cat.safetensors", d).isOk());
}

} // namespace
