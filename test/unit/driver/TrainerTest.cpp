//===- TrainerTest.cpp - the trainer's checks and messages ----------------===//
//
// The training loop itself runs end to end in test/cli/train_cli.py (it
// needs a compiled SASRec with a train_step entry); here: the messages that
// stop a run, and the checks of what a plan must take.
//
//===----------------------------------------------------------------------===//

#include "onerec/Driver/Trainer.h"
#include "onerec/Driver/PlanInputs.h"

#include "TestPlans.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace onerec::driver;
using namespace onerec::runtime;

namespace {

TEST(NonFinite, NamesTheStepTheEntryAndTheTensor) {
  Status s = nonFiniteError(1234, "train_step", "loss",
                            std::numeric_limits<double>::quiet_NaN());
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.message().rfind(
                "step 1234: entry 'train_step' produced a non-finite loss "
                "(nan); training stopped",
                0),
            0u)
      << s.message();
  s = nonFiniteError(7, "train_accumulate", "loss", INFINITY,
                     "in micro-batch 2 of 4");
  EXPECT_NE(s.message().find("step 7: entry 'train_accumulate' produced a "
                             "non-finite loss (inf) in micro-batch 2 of 4"),
            std::string::npos)
      << s.message();
  s = nonFiniteError(3, "train_step", "grad_norm", -INFINITY);
  EXPECT_NE(s.message().find("non-finite grad_norm (-inf)"), std::string::npos);
}

std::unique_ptr<PlanFile> open(const onerec::test::PlanSpec &spec) {
  std::vector<uint8_t> bytes = spec.build();
  auto plan = PlanFile::fromBytes(bytes.data(), bytes.size(), "test.fb");
  EXPECT_TRUE(plan.isOk()) << plan.status().message();
  return plan ? std::move(*plan) : nullptr;
}

TEST(PlanInputs, APlanWithoutTrainingEntriesIsNamed) {
  auto plan = open(onerec::test::linearPlan());
  ASSERT_TRUE(plan);
  auto entry = trainEntryName(*plan);
  ASSERT_FALSE(entry.isOk());
  EXPECT_EQ(entry.status().message(),
            "test.fb: the plan has no training entry 'train_step' (it has "
            "'forward'); compile a model with a `train` section (onerecc "
            "model.rdsl -o plan.fb)");
  // A Def entry is no training entry either.
  entry = trainEntryName(*plan, "forward");
  ASSERT_FALSE(entry.isOk());
  EXPECT_NE(entry.status().message().find("not a TrainStep"),
            std::string::npos);
}

TEST(PlanInputs, TheDefaultEntryIsTheFirstStageThatTrains) {
  // An alignment stage without an entry comes first.
  onerec::test::PlanSpec spec = onerec::test::linearPlan();
  spec.formatMinor = 1;
  spec.entries[0].kind = onerec::plan::EntryKind::TrainStep;
  spec.entries[0].name = "tune.train_step";
  onerec::test::TrainSpec train;
  train.stages.push_back({"align", "", 0, 10});
  train.stages.push_back({"tune", "tune.train_step", 2, 0});
  spec.train = train;
  auto plan = open(spec);
  ASSERT_TRUE(plan);
  auto entry = trainEntryName(*plan);
  ASSERT_TRUE(entry.isOk()) << entry.status().message();
  EXPECT_EQ(*entry, "tune.train_step");
}

TEST(PlanInputs, ForwardMustTakeSeqAndReturnScores) {
  auto plan = open(onerec::test::linearPlan());
  ASSERT_TRUE(plan);
  auto inputs = inspectForwardEntry(*plan);
  ASSERT_FALSE(inputs.isOk());
  EXPECT_NE(inputs.status().message().find(
                "entry 'forward' must take exactly one input 'seq'"),
            std::string::npos)
      << inputs.status().message();
  EXPECT_FALSE(inspectForwardEntry(*plan, "score").isOk());
}

TEST(PlanInputs, ForwardOfANextItemModel) {
  // forward(seq i64[B, 5] (id < 10)) -> scores f32[B, 10].
  onerec::test::PlanSpec p;
  auto B = p.dim("B", 4);
  p.param("table", DType::f32, {10, 4});
  auto &e = p.entry("forward");
  uint32_t seq = e.input("seq", DType::i64, {B, 5}, 10);
  uint32_t t = e.param(0, DType::f32, {10, 4});
  uint32_t x = e.tensor("x", DType::f32, {B, 5, 4});
  e.kernel(onerec::plan::OpCode::Embedding, {t, seq}, {x});
  e.output("x", x);
  auto plan = open(p);
  ASSERT_TRUE(plan);
  // Its output is no [B, items + 1] score matrix.
  auto inputs = inspectForwardEntry(*plan);
  ASSERT_FALSE(inputs.isOk());
  EXPECT_NE(inputs.status().message().find(
                "returns f32[B, 5, 4], but next-item scores are f32[B, 10]"),
            std::string::npos)
      << inputs.status().message();
}

} // namespace
