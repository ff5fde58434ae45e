//===- Trainer.h - the training loop of onerec-run train --------*- C++ -*-===//
//
// Trains a plan's TrainStep entry on next-item batches of a dataset (or,
// for a generative model whose entry takes semantic IDs, on the
// GenerativeBatcher's examples with the codes of a catalog):
//
//   for update t = 1 .. total:
//     k - 1 micro-batches through `train_accumulate` (accumulate = k > 1),
//     one through `train_step` with optimizer.step = t and
//     optimizer.hparams = Hyperparams::vector(t) (the LR schedule);
//     check loss and grad_norm are finite; metrics.jsonl; progress line;
//     every eval_every updates: HR@K / NDCG@K on the validation split
//       (generative models: the mean loss of the valid targets);
//     every ckpt_every updates and at the end: an atomic checkpoint.
//   then: the validation and test splits.
//
// Determinism: the batches are a pure function of (seed, epoch, row), the
// dropout masks of (seed, RNG step), and the RNG step of micro-batch m of
// update t is (t - 1) * k + m (Executor::setStep). A checkpoint holds the
// parameters with the optimizer state, the data position and the
// hyperparameters, so a resumed run computes bit for bit what the
// uninterrupted run would have (with the same thread count).
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_TRAINER_H
#define ONEREC_DRIVER_TRAINER_H

#include "onerec/Data/Dataset.h"
#include "onerec/Driver/Evaluator.h"
#include "onerec/Driver/GenerativeLoss.h"
#include "onerec/Driver/Hyperparams.h"
#include "onerec/Driver/Ranking.h"
#include "onerec/Runtime/PlanFile.h"
#include "onerec/Runtime/Status.h"

#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace onerec::driver {

/// The cloze masking probability when --mask-prob is not given.
constexpr double kDefaultMaskProb = 0.2;

struct TrainOptions {
  /// The TrainStep entry; empty = the plan's first stage (`train_step`).
  std::string entry;
  /// Length of the run: --steps, else --epochs, else (resuming) the
  /// checkpoint's total, else the plan's stage whose entry is `entry`.
  std::optional<int64_t> steps, epochs;
  /// Overrides of the plan's `train` table.
  std::optional<int64_t> batch;
  std::optional<double> lr, weightDecay, gradClip;
  /// Cloze models (BERT4Rec): the probability that an item of a training
  /// sequence is masked (at least one per sequence is); default
  /// kDefaultMaskProb, or the resumed run's.
  std::optional<double> maskProb;
  std::optional<ScheduleKind> schedule;
  std::optional<int64_t> warmup;
  /// Generative models (a training entry that takes semantic IDs): the
  /// items' codes (--catalog; must outlive the trainer) and its name for
  /// messages. Next-item models do not use it.
  const data::Catalog *catalog = nullptr;
  std::string catalogName;
  /// Seed of the data order, the negatives and dropout (default: the plan's).
  std::optional<uint64_t> seed;
  /// Initial weights (safetensors) of a fresh run; optimizer state in the
  /// file is not used (a fresh run starts a fresh optimizer).
  std::optional<std::string> initWeights;

  /// Checkpoints: directory (empty = none), every N updates (0 = once per
  /// epoch) and at the end, keeping the newest `keep` (0 = all).
  std::string ckptDir;
  int64_t ckptEvery = 0;
  int keep = 3;
  /// Continue from the newest complete checkpoint in ckptDir.
  bool resume = false;

  /// metrics.jsonl (empty = none).
  std::string metricsPath;
  /// Validation every N updates (0 = only at the end); K and protocol.
  int64_t evalEvery = 0;
  int evalK = 10;
  Protocol evalProtocol = Protocol::Full;
  /// Evaluate on the validation and test splits at the end.
  bool finalEval = true;

  unsigned threads = 0;
  /// Progress: a line every N updates when stderr is not a terminal (0 =
  /// about 20 lines per run); `terminal` forces the style.
  int64_t logEvery = 0;
  std::optional<bool> terminal;
  /// No progress line at all.
  bool quiet = false;
  /// Polled after every update (a SIGINT/SIGTERM handler sets it): when
  /// nonzero the run saves a checkpoint (with ckptDir) and stops.
  const volatile std::sig_atomic_t *stopRequested = nullptr;
};

struct TrainSummary {
  int64_t firstStep = 0; // the first update this run did
  int64_t lastStep = 0;
  double lastLoss = 0;
  double seconds = 0;
  int64_t examples = 0;
  std::optional<EvalResult> valid, test;
  /// Generative models: the mean loss of the valid and test targets.
  std::optional<LossResult> validLoss, testLoss;
  /// Set when a checkpoint was resumed.
  std::optional<int64_t> resumedFrom;
};

/// The error for a non-finite output of a training entry:
/// "step 1234: entry 'train_step' produced a non-finite loss (nan)".
runtime::Status nonFiniteError(int64_t step, std::string_view entry,
                               std::string_view tensor, double value,
                               std::string_view where = {});

class Trainer {
public:
  /// Checks the plan, the dataset and the options; loads the checkpoint
  /// when resuming. `plan` and `dataset` must outlive the trainer.
  static runtime::StatusOr<std::unique_ptr<Trainer>>
  create(const runtime::PlanFile &plan, const data::Dataset &dataset,
         const TrainOptions &options);
  ~Trainer();

  /// Runs the remaining updates. Stops at the first error (a non-finite
  /// loss, a failed checkpoint) with the last good checkpoint on disk.
  runtime::StatusOr<TrainSummary> run();

  const Hyperparams &hyperparams() const;
  int64_t totalSteps() const;

private:
  struct State;
  explicit Trainer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

} // namespace onerec::driver

#endif // ONEREC_DRIVER_TRAINER_H
