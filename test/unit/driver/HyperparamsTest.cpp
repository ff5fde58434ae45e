//===- HyperparamsTest.cpp - LR schedules and optimizer.hparams -----------===//

#include "onerec/Driver/Hyperparams.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace onerec::driver;

namespace {

TEST(LrSchedule, ConstantIsTheBaseRateAtEveryStep) {
  LrSchedule s{ScheduleKind::Constant, 1e-3, 100, 1000, 0};
  for (int64_t t : {1, 50, 100, 1000, 5000})
    EXPECT_DOUBLE_EQ(s.at(t), 1e-3);
}

TEST(LrSchedule, WarmupRisesLinearlyThenStays) {
  LrSchedule s{ScheduleKind::Warmup, 1e-3, 100, 0, 0};
  EXPECT_DOUBLE_EQ(s.at(1), 1e-5);
  EXPECT_DOUBLE_EQ(s.at(50), 5e-4);
  EXPECT_DOUBLE_EQ(s.at(100), 1e-3);
  EXPECT_DOUBLE_EQ(s.at(101), 1e-3);
  EXPECT_DOUBLE_EQ(s.at(100000), 1e-3);
  // No warmup: the base rate from the first step.
  LrSchedule none{ScheduleKind::Warmup, 2e-3, 0, 0, 0};
  EXPECT_DOUBLE_EQ(none.at(1), 2e-3);
}

TEST(LrSchedule, CosineWarmsUpThenDecaysToMinLr) {
  LrSchedule s{ScheduleKind::Cosine, 1e-3, 100, 1100, 1e-5};
  EXPECT_DOUBLE_EQ(s.at(1), 1e-5);
  EXPECT_DOUBLE_EQ(s.at(50), 5e-4);
  EXPECT_DOUBLE_EQ(s.at(100), 1e-3); // end of warmup: the base rate
  // Half way through the decay: (lr + min_lr) / 2.
  EXPECT_NEAR(s.at(600), (1e-3 + 1e-5) / 2, 1e-15);
  // A quarter: min + (lr - min) * (1 + cos(pi/4)) / 2.
  EXPECT_NEAR(s.at(350), 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + std::sqrt(0.5)),
              1e-15);
  EXPECT_NEAR(s.at(1100), 1e-5, 1e-18);
  EXPECT_NEAR(s.at(5000), 1e-5, 1e-18); // stays at min_lr after total
  // Monotone decreasing after warmup.
  for (int64_t t = 101; t < 1100; ++t)
    EXPECT_LE(s.at(t + 1), s.at(t)) << t;
}

TEST(LrSchedule, CosineWithoutWarmupOrSpan) {
  LrSchedule s{ScheduleKind::Cosine, 1.0, 0, 10, 0};
  EXPECT_NEAR(s.at(0), 1.0, 1e-15);
  EXPECT_NEAR(s.at(5), 0.5, 1e-15);
  EXPECT_NEAR(s.at(10), 0.0, 1e-15);
  // total <= warmup: fully decayed after the warmup.
  LrSchedule degenerate{ScheduleKind::Cosine, 1.0, 10, 5, 0.1};
  EXPECT_DOUBLE_EQ(degenerate.at(10), 1.0);
  EXPECT_DOUBLE_EQ(degenerate.at(11), 0.1);
}

TEST(Hyperparams, VectorFollowsTheDocumentedLayout) {
  Hyperparams h;
  h.optimizer = OptimizerKind::AdamW;
  h.schedule = {ScheduleKind::Warmup, 1e-3, 10, 0, 0};
  h.beta1 = 0.9;
  h.beta2 = 0.98;
  h.eps = 1e-8;
  h.weightDecay = 0.1;
  h.gradClip = 1.0;
  h.accumulate = 4;
  std::array<float, 8> v = h.vector(5);
  EXPECT_FLOAT_EQ(v[0], 5e-4f);
  EXPECT_FLOAT_EQ(v[1], 0.9f);
  EXPECT_FLOAT_EQ(v[2], 0.98f);
  EXPECT_FLOAT_EQ(v[3], 1e-8f);
  EXPECT_FLOAT_EQ(v[4], 0.1f);
  EXPECT_FLOAT_EQ(v[5], 1.0f);
  EXPECT_FLOAT_EQ(v[6], 0.25f);
  EXPECT_EQ(v[7], 0.0f);

  h.optimizer = OptimizerKind::Sgd;
  h.momentum = 0.5;
  h.nesterov = true;
  v = h.vector(20);
  EXPECT_FLOAT_EQ(v[0], 1e-3f);
  EXPECT_FLOAT_EQ(v[1], 0.5f);
  EXPECT_FLOAT_EQ(v[2], 1.0f);
}

TEST(Hyperparams, JsonRoundTripIsExact) {
  Hyperparams h;
  h.optimizer = OptimizerKind::Sgd;
  h.schedule = {ScheduleKind::Cosine, 0.1 / 3, 7, 99, 1e-7};
  h.momentum = 0.9;
  h.nesterov = true;
  h.gradClip = 5;
  h.accumulate = 3;
  h.batch = 64;
  auto back = Hyperparams::fromJson(h.toJson(), "test");
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_TRUE(*back == h);
}

TEST(Hyperparams, BadJsonIsNamed) {
  auto bad = Hyperparams::fromJson("{\"optimizer\": \"lion\"}", "ckpt.json");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("ckpt.json"), std::string::npos);
  EXPECT_FALSE(Hyperparams::fromJson("[1", "x").isOk());
}

TEST(Schedule, NamesParse) {
  EXPECT_EQ(parseSchedule("cosine"), ScheduleKind::Cosine);
  EXPECT_EQ(parseSchedule("warmup"), ScheduleKind::Warmup);
  EXPECT_EQ(parseSchedule("constant"), ScheduleKind::Constant);
  EXPECT_FALSE(parseSchedule("linear").has_value());
}

} // namespace
