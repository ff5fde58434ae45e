//===- TrainerState.h - the trainer's state (driver-private) ----*- C++ -*-===//
//
// Trainer::State, shared by Trainer.cpp (set-up, feeds, the loop) and
// TrainerCheckpoint.cpp (what a checkpoint records and resuming from it).
// Not installed: only driver/lib includes it.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_LIB_TRAINERSTATE_H
#define ONEREC_DRIVER_LIB_TRAINERSTATE_H

#include "onerec/Data/GenerativeBatcher.h"
#include "onerec/Data/SequenceBatcher.h"
#include "onerec/Driver/Checkpoint.h"
#include "onerec/Driver/Evaluator.h"
#include "onerec/Driver/GenerativeLoss.h"
#include "onerec/Driver/Metrics.h"
#include "onerec/Driver/PlanInputs.h"
#include "onerec/Driver/Trainer.h"
#include "onerec/Runtime/Executor.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onerec::driver {

using runtime::DType;
using runtime::Executor;
using runtime::HostTensor;
using runtime::NamedTensorView;
using runtime::ParameterStore;
using runtime::PlanFile;
using runtime::Status;
using runtime::StatusOr;

struct Trainer::State {
  const PlanFile *plan = nullptr;
  const data::Dataset *dataset = nullptr;
  TrainOptions options;
  NextItemInputs inputs;
  std::string trainEntry, accumulateEntry;
  Hyperparams hyper;
  uint64_t seed = 0;
  /// Cloze models: the masking probability of this run.
  double maskProb = kDefaultMaskProb;
  int64_t totalSteps = 0;
  int64_t batchesPerEpoch = 0;
  int64_t ckptEvery = 0;

  std::unique_ptr<ParameterStore> params;
  std::unique_ptr<Executor> train, accumulate;
  std::unique_ptr<Evaluator> evaluator;
  std::optional<data::SequenceBatcher> batcher;
  /// Generative models: semantic-ID batches and the validation loss.
  bool generative = false;
  GenerativeInputs genInputs;
  std::optional<data::GenerativeBatcher> genBatcher;
  data::GenerativeBatch genBatch;
  std::unique_ptr<LossEvaluator> lossEvaluator;
  std::unique_ptr<CheckpointDir> ckpt;
  std::unique_ptr<MetricsWriter> metrics;

  // Where the run starts.
  int64_t startStep = 0;
  double wallOffset = 0;
  int64_t examplesBefore = 0;
  std::optional<int64_t> resumedFrom;

  // Reused every micro-batch: the batch and the feeds.
  data::SequenceBatch batch;
  /// `neg : i64[N]`: the negatives shared by the current batch.
  std::vector<int64_t> sharedNeg;
  /// Cloze models: the masked sequences and their labels.
  std::vector<int64_t> clozeSeq, clozeLabels;
  HostTensor stepTensor{DType::i64, {}};
  HostTensor hparamsTensor{DType::f32, {8}};
  std::vector<NamedTensorView> trainFeeds, accumulateFeeds;
  int trainLoss = -1, trainNorm = -1, accumulateLoss = -1;

  std::optional<CheckpointMeta> resumeMeta;

  Status setUp();
  /// Finds and checks the checkpoint to resume (sets resumeMeta, seed and
  /// the hyperparameters).
  Status findCheckpoint();
  /// Loads its weights and data position.
  Status restore();
  void bindFeeds(std::vector<NamedTensorView> &feeds, bool optimizer);
  void updateFeeds(std::vector<NamedTensorView> &feeds);
  void fillCloze();
  /// The next train batch (either kind); false at the end of an epoch.
  bool nextBatch() {
    return generative ? genBatcher->next(genBatch) : batcher->next(batch);
  }
  int64_t batchRows() const { return generative ? genBatch.rows : batch.rows; }
  data::Position batchPosition() const {
    return generative ? genBatch.position : batch.position;
  }
  /// Where the next train batch starts.
  data::Position dataPosition() const {
    return generative ? genBatcher->position() : batcher->position();
  }
  Status seekData(data::Position at) {
    return generative ? genBatcher->seek(at) : batcher->seek(at);
  }
  /// Sets up the generative path (catalog, inputs, batcher).
  Status setUpGenerative();
  CheckpointMeta checkpointMeta(int64_t step, double wallS,
                                int64_t examples) const;
  Status evaluate(data::Split split, int64_t step, int64_t epoch, double wallS,
                  ProgressLine *progress, TrainSummary &summary);
  Status evaluateLoss(data::Split split, int64_t step, int64_t epoch,
                      double wallS, ProgressLine *progress,
                      std::optional<LossResult> &out);
  bool canEvaluate() const { return evaluator || lossEvaluator; }
};

} // namespace onerec::driver

#endif // ONEREC_DRIVER_LIB_TRAINERSTATE_H
