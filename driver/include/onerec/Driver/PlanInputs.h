//===- PlanInputs.h - what the driver feeds a plan's entries ----*- C++ -*-===//
//
// onerec-run train and eval feed next-item batches (SequenceBatcher) to a
// plan by input name: `seq` [B, L] to `forward`, and `seq`, `pos`, `neg`
// (+ `optimizer.step`, `optimizer.hparams`) to a TrainStep entry.
// Generative models (TIGER, OneRec) get semantic-ID batches
// (GenerativeBatcher), recognised by the shapes and roles of the entry's
// inputs rather than their names: an id input [B] is the user, a
// semantic-ID input [B, hist, levels] the history, a semantic-ID target
// [B, n, levels] the next n items. These checks run before any work, so a
// plan the driver cannot feed, or a dataset or catalog that does not fit
// the plan, gets one clear error naming what is wrong and what to do.
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
class Catalog;
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

/// The semantic-ID inputs of a generative model's entry, by input name.
struct GenerativeInputs {
  std::string entry;
  /// id[B]: the dataset user id (the model hashes it); empty = none.
  std::string user;
  /// sid[B, hist, levels]: the codes of the items before the target.
  std::string history;
  /// sid[B, n, levels] (role Target): the codes of the next n items.
  std::string target;
  int64_t historyLen = 0; // hist
  int64_t targets = 0;    // n
  int64_t levels = 0;
  /// The codes' bound (the plan's sid<K>), K.
  int64_t codebook = 0;
  /// The most rows the entry takes.
  int64_t maxBatch = 0;
  /// TrainStep entries: has `optimizer.step` and `optimizer.hparams`.
  bool optimizerInputs = false;
};

/// Whether entry `entry` takes semantic IDs: an i64 input of rank 3 with an
/// index bound (a `sid<K>[B, n, levels]`). Such a plan is trained with a
/// catalog (--catalog) instead of next-item batches.
bool takesSemanticIds(const runtime::PlanFile &plan, std::string_view entry);

/// Checks that entry `entry` (a TrainStep, or with `train` false the Loss
/// entry validation runs) takes exactly what the driver feeds a generative
/// model: at most one user id[B], one history sid[B, hist, levels], one
/// target sid[B, n, levels] of the same levels and codebook (and for a
/// TrainStep the optimizer's controls and the outputs `loss`,
/// `grad_norm`); anything else is named in the error.
runtime::StatusOr<GenerativeInputs>
inspectGenerativeEntry(const runtime::PlanFile &plan, std::string_view entry,
                       bool train = true);

/// The Loss entry that validation evaluates for TrainStep `trainEntry`:
/// `ntp` if it takes the same data inputs, else the first Loss entry that
/// does; empty when none does.
std::string validationLossEntry(const runtime::PlanFile &plan,
                                std::string_view trainEntry);

/// Checks that the catalog's codes fit the plan's semantic IDs (the same
/// levels, codes below the plan's codebook) and that it has every item of
/// the dataset.
runtime::Status checkCatalogFits(const GenerativeInputs &inputs,
                                 const runtime::PlanFile &plan,
                                 const data::Catalog &catalog,
                                 const std::string &catalogName,
                                 const data::Dataset &dataset);

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
