//===- GenerativeLoss.h - generative feeds, validation loss -----*- C++ -*-===//
//
// Generative models (TIGER, OneRec) are trained on semantic-ID batches
// (data::GenerativeBatcher) and validated during training by their loss on
// the held-out split: the mean of the plan's Loss entry (`ntp`) over every
// valid (or test) example, the history being everything before the target.
// Ranking metrics need beam search over the catalog: that is `onerec-run
// eval --catalog`, not this.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_GENERATIVELOSS_H
#define ONEREC_DRIVER_GENERATIVELOSS_H

#include "onerec/Data/GenerativeBatcher.h"
#include "onerec/Driver/PlanInputs.h"
#include "onerec/Runtime/Executor.h"
#include "onerec/Runtime/PlanFile.h"

#include <memory>
#include <string>
#include <vector>

namespace onerec::driver {

/// Points the feeds named by `inputs` (user, history, target) at the rows
/// [0, batch.rows) of `batch`; other feeds are left alone.
void feedGenerativeBatch(const GenerativeInputs &inputs,
                         const data::GenerativeBatch &batch,
                         std::vector<runtime::NamedTensorView> &feeds);

/// The mean loss over a split.
struct LossResult {
  data::Split split = data::Split::Valid;
  std::string entry;
  double loss = 0;
  int64_t examples = 0;
  double seconds = 0;
};

class LossEvaluator {
public:
  /// Checks Loss entry `entry` and makes its executor over `params` (shared
  /// with the trainer, so it sees the current weights). `plan`, `params`,
  /// `dataset` and `catalog` must outlive the evaluator.
  static runtime::StatusOr<std::unique_ptr<LossEvaluator>>
  create(const runtime::PlanFile &plan, runtime::ParameterStore &params,
         const data::Dataset &dataset, const data::Catalog &catalog,
         const std::string &entry, int64_t batch, unsigned threads);

  /// The loss of every example of `split` (valid or test), averaged over
  /// the examples.
  runtime::StatusOr<LossResult> evaluate(data::Split split);
  const GenerativeInputs &inputs() const { return inputs_; }

private:
  LossEvaluator() = default;
  const data::Dataset *dataset_ = nullptr;
  const data::Catalog *catalog_ = nullptr;
  GenerativeInputs inputs_;
  int64_t batch_ = 0;
  std::unique_ptr<runtime::Executor> executor_;
  data::GenerativeBatch data_;
};

} // namespace onerec::driver

#endif // ONEREC_DRIVER_GENERATIVELOSS_H
