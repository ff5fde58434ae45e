//===- Evaluator.h - leave-one-out HR@K / NDCG@K of a plan ------*- C++ -*-===//
//
// Runs a plan's `forward` entry (scores of every item for the position
// after `seq`) over the validation or test rows of a dataset and ranks each
// held-out target (Ranking.h: full ranking with history masking, or the
// sampled-100 protocol). One executor and one batch buffer serve every
// evaluation; the parameters are read from the store the trainer updates,
// so an evaluation mid-training sees the current weights.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_EVALUATOR_H
#define ONEREC_DRIVER_EVALUATOR_H

#include "onerec/Data/Dataset.h"
#include "onerec/Data/SequenceBatcher.h"
#include "onerec/Driver/PlanInputs.h"
#include "onerec/Driver/Ranking.h"
#include "onerec/Runtime/Executor.h"

#include <memory>
#include <optional>

namespace onerec::driver {

struct EvalOptions {
  std::string entry = "forward";
  int k = 10;
  Protocol protocol = Protocol::Full;
  /// Rows per forward call; 0 = min(256, the plan's batch maximum).
  int64_t batch = 0;
  unsigned threads = 0;
  /// A cloze model (its forward scores a mask appended to the history); by
  /// default what the plan's training entry says (isClozeModel).
  std::optional<bool> cloze;
};

struct EvalResult {
  data::Split split = data::Split::Valid;
  Protocol protocol = Protocol::Full;
  RankingMetrics metrics{10};
  double seconds = 0;
};

/// The seed of the sampled protocol's negatives: fixed, so that every
/// evaluation of a dataset (during training, `onerec-run eval`, another
/// run) ranks against the same candidates.
constexpr uint64_t kEvalCandidateSeed = 0;

class Evaluator {
public:
  static runtime::StatusOr<std::unique_ptr<Evaluator>>
  create(const runtime::PlanFile &plan, runtime::ParameterStore &params,
         const data::Dataset &dataset, const EvalOptions &options);

  /// Ranks every target of `split` (Valid or Test).
  runtime::StatusOr<EvalResult> evaluate(data::Split split);
  const EvalOptions &options() const { return options_; }

private:
  Evaluator(const data::Dataset &dataset, EvalOptions options)
      : dataset_(dataset), options_(std::move(options)) {}

  const data::Dataset &dataset_;
  EvalOptions options_;
  NextItemInputs inputs_;
  std::unique_ptr<runtime::Executor> executor_;
  data::SequenceBatch batch_;
  std::vector<int64_t> scratch_;
  /// Cloze models: the histories with a mask appended.
  std::vector<int64_t> clozeSeq_;
};

} // namespace onerec::driver

#endif // ONEREC_DRIVER_EVALUATOR_H
