//===- Hyperparams.h - optimizer settings and the LR schedule ---*- C++ -*-===//
//
// A TrainStep entry takes its hyperparameters as data (`optimizer.hparams`,
// f32[8], docs/training.md), so one plan serves any learning rate. The
// defaults come from the plan's `train` table; the command line overrides
// them; the driver applies the learning-rate schedule and fills the vector
// for every update.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_HYPERPARAMS_H
#define ONEREC_DRIVER_HYPERPARAMS_H

#include "onerec/Runtime/Status.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace onerec::plan {
struct TrainConfig;
} // namespace onerec::plan

namespace onerec::driver {

enum class OptimizerKind { Sgd, Adam, AdamW };
enum class ScheduleKind { Constant, Warmup, Cosine };

const char *optimizerName(OptimizerKind kind);
const char *scheduleName(ScheduleKind kind);
/// "constant", "warmup" or "cosine".
std::optional<ScheduleKind> parseSchedule(std::string_view name);

/// The learning-rate schedules of docs/training.md.
struct LrSchedule {
  ScheduleKind kind = ScheduleKind::Constant;
  double lr = 1e-3;
  /// Updates of linear warmup (warmup, cosine).
  int64_t warmup = 0;
  /// The update at which cosine decay reaches min_lr.
  int64_t total = 0;
  double minLr = 0;

  /// The rate of update `t` (1-based).
  double at(int64_t t) const;
};

/// Everything the optimizer of a TrainStep entry is given, and the batch.
struct Hyperparams {
  OptimizerKind optimizer = OptimizerKind::Adam;
  LrSchedule schedule;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weightDecay = 0;
  double momentum = 0;
  bool nesterov = false;
  /// Clip the global gradient norm to this; 0 = off.
  double gradClip = 0;
  /// Micro-batches per update (`train_accumulate` runs accumulate - 1 times).
  int64_t accumulate = 1;
  /// Examples per micro-batch.
  int64_t batch = 0;

  /// The plan's defaults (`config` may be null: a plan without a `train`
  /// table gets AdamW-free defaults: Adam, lr 1e-3, batch 0 = unset).
  static Hyperparams fromPlan(const plan::TrainConfig *config);

  /// `optimizer.hparams` for update `t` (1-based), laid out as in
  /// docs/training.md.
  std::array<float, 8> vector(int64_t t) const;

  /// A JSON object with every field (checkpoint metadata, `--json`).
  std::string toJson() const;
  /// The inverse of toJson; `what` names the source in errors.
  static runtime::StatusOr<Hyperparams> fromJson(std::string_view text,
                                                 std::string_view what);

  bool operator==(const Hyperparams &other) const;
  bool operator!=(const Hyperparams &other) const { return !(*this == other); }
};

} // namespace onerec::driver

#endif // ONEREC_DRIVER_HYPERPARAMS_H
