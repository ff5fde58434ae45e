//===- MetricsTest.cpp - metrics.jsonl records and the progress line ------===//

#include "onerec/Driver/Metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

using namespace onerec::driver;
namespace fs = std::filesystem;

namespace {

std::string readAll(const fs::path &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Metrics, StepRecordHasFullPrecisionLoss) {
  StepRecord r;
  r.step = 12;
  r.epoch = 1;
  r.loss = double(0.69314718f);
  r.lr = 1e-3;
  r.gradNorm = 0.5;
  r.examplesPerS = 812.54;
  r.wallS = 0.1584;
  EXPECT_EQ(formatRecord(r),
            "{\"step\": 12, \"epoch\": 1, \"loss\": 0.69314718246459961, "
            "\"lr\": 0.001, \"grad_norm\": 0.5, \"examples_per_s\": 812.5, "
            "\"wall_s\": 0.158}");
  // 17 significant digits read back to the same double.
  double x = 0.1 + 0.2;
  EXPECT_EQ(std::strtod(formatJsonNumber(x).c_str(), nullptr), x);
}

TEST(Metrics, NonFiniteValuesAreWrittenAsPythonReadsThem) {
  EXPECT_EQ(formatJsonNumber(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(formatJsonNumber(INFINITY), "Infinity");
  EXPECT_EQ(formatJsonNumber(-INFINITY), "-Infinity");
}

TEST(Metrics, EvalRecord) {
  EvalRecord r;
  r.split = "valid";
  r.step = 100;
  r.epoch = 2;
  r.protocol = "full";
  r.k = 10;
  r.hitRate = 0.5;
  r.ndcg = 0.25;
  r.users = 1000;
  r.wallS = 3.25;
  EXPECT_EQ(formatRecord(r),
            "{\"eval\": \"valid\", \"step\": 100, \"epoch\": 2, \"protocol\": "
            "\"full\", \"k\": 10, \"hr\": 0.5, \"ndcg\": 0.25, \"users\": "
            "1000, \"wall_s\": 3.250}");
}

TEST(Metrics, ResumeDropsRecordsAfterTheCheckpointAndCutLines) {
  fs::path path = fs::path(::testing::TempDir()) / "onerec-metrics.jsonl";
  {
    auto writer = MetricsWriter::create(path.string());
    ASSERT_TRUE(writer.isOk());
    for (int64_t step = 1; step <= 5; ++step) {
      StepRecord r;
      r.step = step;
      r.loss = 1.0 / double(step);
      ASSERT_TRUE((*writer)->write(r).isOk());
      if (step == 3) {
        EvalRecord e;
        e.split = "valid";
        e.step = 3;
        ASSERT_TRUE((*writer)->write(e).isOk());
      }
    }
  }
  std::string full = readAll(path);
  { std::ofstream(path, std::ios::app) << "{\"step\": 6, \"lo"; } // killed
  {
    auto writer = MetricsWriter::resume(path.string(), 3);
    ASSERT_TRUE(writer.isOk()) << writer.status().message();
    std::string kept = readAll(path);
    EXPECT_EQ(std::count(kept.begin(), kept.end(), '\n'), 4); // 1, 2, 3, eval
    EXPECT_EQ(full.substr(0, kept.size()), kept);
    StepRecord r;
    r.step = 4;
    r.loss = 0.25;
    ASSERT_TRUE((*writer)->write(r).isOk());
  }
  std::string after = readAll(path);
  EXPECT_EQ(std::count(after.begin(), after.end(), '\n'), 5);
  EXPECT_NE(after.find("{\"step\": 4, \"epoch\": 0, \"loss\": 0.25,"),
            std::string::npos);
  // A cut last line is dropped even when its step is old.
  { std::ofstream(path, std::ios::app) << "{\"step\": 1"; }
  ASSERT_TRUE(MetricsWriter::resume(path.string(), 100).isOk());
  EXPECT_EQ(readAll(path), after);
  fs::remove(path);
  // Resuming with no metrics file starts one.
  ASSERT_TRUE(MetricsWriter::resume(path.string(), 3).isOk());
  EXPECT_TRUE(fs::exists(path));
  fs::remove(path);
}

TEST(Metrics, UnwritablePathIsNamed) {
  auto writer = MetricsWriter::create("/nonexistent-dir/m.jsonl");
  ASSERT_FALSE(writer.isOk());
  EXPECT_NE(writer.status().message().find("/nonexistent-dir/m.jsonl"),
            std::string::npos);
}

TEST(ProgressLine, Format) {
  EXPECT_EQ(ProgressLine::format(1200, 5000, 3, 0.41234, 1e-3, 8421.2, 41.4),
            "step 1200/5000 (24%)  epoch 3  loss 0.4123  lr 1.00e-03  8421 "
            "ex/s  ETA 0:41");
  EXPECT_EQ(ProgressLine::format(1, 2, 1, 1, 1, 1, 3725),
            "step 1/2 (50%)  epoch 1  loss 1.0000  lr 1.00e+00  1 ex/s  ETA "
            "1:02:05");
  EXPECT_NE(ProgressLine::format(1, 2, 1, 1, 1, 1, NAN).find("ETA ?"),
            std::string::npos);
}

TEST(ProgressLine, OneLinePerNStepsWithoutATerminal) {
  char *buffer = nullptr;
  size_t size = 0;
  std::FILE *out = open_memstream(&buffer, &size);
  {
    ProgressLine progress(out, /*terminal=*/false, 10, 4);
    for (int64_t step = 1; step <= 10; ++step)
      progress.update(step, 1, 0.5, 1e-3, 100);
    progress.message("eval valid HR@10 0.5");
    progress.finish();
  }
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  // Steps 4, 8 and the last one, then the message.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << text;
  EXPECT_NE(text.find("step 4/10"), std::string::npos);
  EXPECT_NE(text.find("step 8/10"), std::string::npos);
  EXPECT_NE(text.find("step 10/10"), std::string::npos);
  EXPECT_EQ(text.find("step 5/10"), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos);
}

TEST(ProgressLine, RewritesInPlaceOnATerminal) {
  char *buffer = nullptr;
  size_t size = 0;
  std::FILE *out = open_memstream(&buffer, &size);
  {
    ProgressLine progress(out, /*terminal=*/true, 1000, 1, /*refreshPerS=*/1);
    for (int64_t step = 1; step <= 1000; ++step)
      progress.update(step, 1, 0.5, 1e-3, 100);
    progress.finish();
  }
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  // The first and the last update (the rest fall within one second).
  EXPECT_LE(std::count(text.begin(), text.end(), '\r'), 3) << text;
  EXPECT_NE(text.find("step 1000/1000"), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
}

} // namespace
