//===- CheckpointTest.cpp - atomic checkpoints, pruning, damage -----------===//

#include "onerec/Driver/Checkpoint.h"

#include "TestPlans.h"

#include "onerec/Runtime/PlanFile.h"
#include "onerec/Runtime/Weights.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

using namespace onerec::driver;
using namespace onerec::runtime;
namespace fs = std::filesystem;

namespace {

class CheckpointTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ =
        fs::path(::testing::TempDir()) /
        ("onerec-ckpt-" +
         std::string(
             ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    std::vector<uint8_t> bytes = onerec::test::linearPlan().build();
    auto plan = PlanFile::fromBytes(bytes.data(), bytes.size(), "linear.fb");
    ASSERT_TRUE(plan.isOk()) << plan.status().message();
    plan_ = std::move(*plan);
    params_ = std::make_unique<ParameterStore>(*plan_);
    ASSERT_TRUE(params_->makeWritable().isOk());
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// Sets every weight to `value`.
  void fill(float value) {
    for (size_t i = 0; i < params_->size(); ++i) {
      const TensorView &v = params_->view(i);
      for (int64_t j = 0; j < v.numel(); ++j)
        v.as<float>()[j] = value;
    }
  }
  float first(const ParameterStore &params) const {
    return params.view(0).as<float>()[0];
  }
  CheckpointMeta meta(int64_t step) const {
    CheckpointMeta m;
    m.step = step;
    m.epoch = 1 + step / 10;
    m.examples = step * 32;
    m.seed = 7;
    m.wallS = 1.5 * double(step);
    m.planModel = "linear";
    m.planSourceHash = "00112233";
    m.hyperparams.schedule.lr = 3e-4;
    m.dataPosition = "{\"epoch\": 2, \"batch\": 17}";
    m.dataset = "{\"items\": 10}";
    return m;
  }
  std::set<std::string> files() const {
    std::set<std::string> names;
    for (const auto &entry : fs::directory_iterator(dir_))
      names.insert(entry.path().filename().string());
    return names;
  }

  fs::path dir_;
  std::unique_ptr<PlanFile> plan_;
  std::unique_ptr<ParameterStore> params_;
};

TEST_F(CheckpointTest, SaveThenLoadRestoresWeightsAndMetadata) {
  CheckpointDir ckpt(dir_.string());
  fill(0.25f);
  ASSERT_TRUE(ckpt.save(*params_, meta(10), 3).isOk());
  EXPECT_EQ(files(), (std::set<std::string>{"ckpt-0000000010.json",
                                            "ckpt-0000000010.safetensors"}));

  auto latest = ckpt.latest();
  ASSERT_TRUE(latest.isOk()) << latest.status().message();
  ASSERT_TRUE(latest->has_value());
  const CheckpointMeta &m = **latest;
  EXPECT_EQ(m.step, 10);
  EXPECT_EQ(m.epoch, 2);
  EXPECT_EQ(m.examples, 320);
  EXPECT_EQ(m.seed, 7u);
  EXPECT_DOUBLE_EQ(m.wallS, 15.0);
  EXPECT_EQ(m.planSourceHash, "00112233");
  EXPECT_DOUBLE_EQ(m.hyperparams.schedule.lr, 3e-4);
  EXPECT_EQ(m.dataPosition, "{\"batch\":17,\"epoch\":2}");
  EXPECT_EQ(m.weightsFile, "ckpt-0000000010.safetensors");

  ParameterStore fresh(*plan_);
  EXPECT_FLOAT_EQ(first(fresh), 0.1f);
  ASSERT_TRUE(ckpt.load(m, fresh).isOk());
  EXPECT_FLOAT_EQ(first(fresh), 0.25f);
}

TEST_F(CheckpointTest, NoCheckpointIsNotAnError) {
  auto latest = CheckpointDir(dir_.string()).latest();
  ASSERT_TRUE(latest.isOk());
  EXPECT_FALSE(latest->has_value());
}

// A save that dies at any stage before its metadata is renamed into place
// leaves the previous checkpoint as the latest one, and the next save
// clears what it left.
TEST_F(CheckpointTest, CrashBeforeTheMetadataRenameKeepsThePrevious) {
  for (const char *stage :
       {"weights-written", "weights-renamed", "meta-written"}) {
    SCOPED_TRACE(stage);
    fs::remove_all(dir_);
    CheckpointDir ckpt(dir_.string());
    fill(1.0f);
    ASSERT_TRUE(ckpt.save(*params_, meta(10), 3).isOk());
    fill(2.0f);
    ckpt.crashHook = [&](const char *at) { return std::string(at) != stage; };
    ASSERT_TRUE(ckpt.save(*params_, meta(20), 3).isOk());
    EXPECT_GT(files().size(), 2u); // the crashed save left something

    CheckpointDir reader(dir_.string());
    auto latest = reader.latest();
    ASSERT_TRUE(latest.isOk()) << latest.status().message();
    ASSERT_TRUE(latest->has_value());
    EXPECT_EQ((*latest)->step, 10);
    ParameterStore fresh(*plan_);
    ASSERT_TRUE(reader.load(**latest, fresh).isOk());
    EXPECT_FLOAT_EQ(first(fresh), 1.0f);

    // The next complete save removes the leftovers.
    ckpt.crashHook = nullptr;
    fill(3.0f);
    ASSERT_TRUE(ckpt.save(*params_, meta(30), 3).isOk());
    EXPECT_EQ(files(), (std::set<std::string>{"ckpt-0000000010.json",
                                              "ckpt-0000000010.safetensors",
                                              "ckpt-0000000030.json",
                                              "ckpt-0000000030.safetensors"}));
  }
}

TEST_F(CheckpointTest, KeepsTheNewestN) {
  CheckpointDir ckpt(dir_.string());
  for (int64_t step = 1; step <= 5; ++step) {
    fill(float(step));
    ASSERT_TRUE(ckpt.save(*params_, meta(step * 100), 2).isOk());
  }
  auto steps = ckpt.list();
  ASSERT_TRUE(steps.isOk());
  EXPECT_EQ(*steps, (std::vector<int64_t>{400, 500}));
  EXPECT_EQ(files().size(), 4u);
  // keep = 0 keeps everything.
  ASSERT_TRUE(ckpt.save(*params_, meta(600), 0).isOk());
  EXPECT_EQ(ckpt.list()->size(), 3u);
}

TEST_F(CheckpointTest, TruncatedWeightsAreRefused) {
  CheckpointDir ckpt(dir_.string());
  ASSERT_TRUE(ckpt.save(*params_, meta(10), 3).isOk());
  fs::resize_file(ckpt.weightsPath(10), 40);
  auto latest = ckpt.latest();
  ASSERT_FALSE(latest.isOk());
  EXPECT_EQ(latest.status().code(), Status::Code::Corrupt);
  const std::string &message = latest.status().message();
  EXPECT_NE(message.find("ckpt-0000000010.safetensors: is 40 bytes"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("fall back to the previous checkpoint"),
            std::string::npos);
}

TEST_F(CheckpointTest, DamagedWeightsFailTheChecksum) {
  CheckpointDir ckpt(dir_.string());
  fill(1.0f);
  ASSERT_TRUE(ckpt.save(*params_, meta(10), 3).isOk());
  {
    std::fstream f(ckpt.weightsPath(10),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('\x7f');
  }
  auto latest = ckpt.latest(); // same size: found ...
  ASSERT_TRUE(latest.isOk());
  ParameterStore fresh(*plan_);
  Status s = ckpt.load(**latest, fresh); // ... but refused on load
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("does not match"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("damaged"), std::string::npos);
  EXPECT_FLOAT_EQ(first(fresh), 0.1f); // nothing changed
}

TEST_F(CheckpointTest, DamagedMetadataIsRefused) {
  CheckpointDir ckpt(dir_.string());
  ASSERT_TRUE(ckpt.save(*params_, meta(10), 3).isOk());
  for (const char *text :
       {"{\"format\": \"onerec-checkpoint\", \"version\": 1, \"step\": 1",
        "{\"format\": \"other\"}", "{\"format\": \"onerec-checkpoint\"}",
        "[]"}) {
    SCOPED_TRACE(text);
    std::ofstream(ckpt.metaPath(10)) << text;
    auto latest = ckpt.latest();
    ASSERT_FALSE(latest.isOk());
    EXPECT_EQ(latest.status().code(), Status::Code::Corrupt);
    EXPECT_NE(latest.status().message().find(
                  "ckpt-0000000010.json: not a valid onerec checkpoint"),
              std::string::npos)
        << latest.status().message();
  }
}

TEST(CheckpointMeta, FormatRoundTrips) {
  CheckpointMeta m;
  m.step = 123;
  m.epoch = 4;
  m.examples = 99999;
  m.seed = UINT64_MAX;
  m.wallS = 0.1 + 0.2;
  m.planModel = "sasrec";
  m.planSourceHash = "4172877e3d2e339a";
  m.hyperparams.gradClip = 1.0 / 3;
  m.dataPosition = "{\"cursor\":5}";
  m.weightsFile = "ckpt-0000000123.safetensors";
  m.weightsBytes = 4096;
  m.weightsChecksum = 0xfedcba9876543210ULL;
  auto back = parseCheckpointMeta(formatCheckpointMeta(m), "m.json");
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_EQ(back->step, 123);
  EXPECT_EQ(back->seed, UINT64_MAX);
  EXPECT_EQ(back->wallS, 0.1 + 0.2);
  EXPECT_TRUE(back->hyperparams == m.hyperparams);
  EXPECT_EQ(back->dataPosition, m.dataPosition);
  EXPECT_EQ(back->weightsChecksum, m.weightsChecksum);
  EXPECT_EQ(back->weightsBytes, 4096u);
}

} // namespace
