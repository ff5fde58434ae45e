//===- PlanInputs.h - what the driver feeds a plan's entries ----*- C++ -*-===//
//
// onerec-run train and eval feed next-item batches (SequenceBatcher) to a
// plan by input name: `seq` [B, L] to `forward`, and `seq`, `pos`, `neg`
// (+ `optimizer.step`, `optimizer.hparams`) to a TrainStep entry. These
// checks run before any work, so a plan the driver cannot feed, or a
// dataset that does not fit the plan, gets one clear error naming what is
// wrong and what to do.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_PLANINPUTS_H
#define ONEREC_DRIVER_PLANINPUTS_H

#include "onerec/Runtime/PlanFile.h"
#include "onerec/Runtime/Status.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace onerec::data {
class Dataset;
} // namespace onerec::data

namespace onerec::driver {

/// The next-item inputs of an entry.
struct NextItemInputs {
  std::string entry;
  /// L: the static sequence length of `seq`.
  int64_t maxLen = 0;
  /// `seq`'s ids are below this (items + 1; 0 = no bound declared).
  int64_t idBound = 0;
  /// The most rows the entry takes (the max of `seq`'s batch dim).
  int64_t maxBatch = 0;
  /// Negatives per position of `neg` (1 for [B, L], K for [B, L, K]).
  int64_t negatives = 0;
  /// N for `neg : i64[N]`: negatives shared by the whole batch (a sampled
  /// softmax over them, as HSTU's); 0 otherwise.
  int64_t sharedNegatives = 0;
  /// A cloze model (BERT4Rec): the entry takes `seq` with some items
  /// replaced by `maskToken` and `labels` (the original item where masked,
  /// else 0) instead of `pos`; its `forward` scores a mask appended to the
  /// history. maskToken is the largest id `seq` takes.
  bool cloze = false;
  int64_t maskToken = 0;
  /// TrainStep entries: has `optimizer.step` and `optimizer.hparams`.
  bool optimizerInputs = false;
};

/// The TrainStep entry to train: `name` if given, else the entry of the
/// first stage of Plan.train that has one, else `train_step`. The error says
/// when the plan has no training entry (a model without a `train` section).
runtime::StatusOr<std::string> trainEntryName(const runtime::PlanFile &plan,
                                              std::string_view name = {});

/// Checks that TrainStep entry `entry` takes exactly what the driver feeds:
/// `seq`, then `pos` and optionally `neg` (i64 [B, L] / [B, L, K], or [N]
/// shared by the batch), or `labels` (a cloze model), and the optimizer's
/// controls; anything else is named in the error.
runtime::StatusOr<NextItemInputs>
inspectTrainEntry(const runtime::PlanFile &plan, std::string_view entry);

/// Whether the plan trains a cloze model: its default training entry takes
/// `labels` and no `pos`. Its `forward` then scores a mask token appended
/// to the history.
bool isClozeModel(const runtime::PlanFile &plan);

/// Checks that `forward` takes `seq` [B, L] and returns one output of
/// scores [B, idBound].
runtime::StatusOr<NextItemInputs>
inspectForwardEntry(const runtime::PlanFile &plan,
                    std::string_view entry = "forward");
/// Checks that the dataset's items fit the plan's ids.
runtime::Status checkDatasetFits(const NextItemInputs &inputs,
                                 const runtime::PlanFile &plan,
                                 const data::Dataset &dataset);

} // namespace onerec::driver

#endif // ONEREC_DRIVER_PLANINPUTS_H
