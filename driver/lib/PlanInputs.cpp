//===- PlanInputs.cpp - what the driver feeds a plan's entries ------------===//

#include "onerec/Driver/PlanInputs.h"

#include "onerec/Data/Catalog.h"
#include "onerec/Data/Dataset.h"
#include "onerec/Data/GenerativeBatcher.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <vector>

using onerec::runtime::PlanFile;
using onerec::runtime::Status;
using onerec::runtime::StatusOr;

namespace onerec::driver {

namespace {

Status invalid(std::string message) {
  return Status::error(Status::Code::InvalidArgument, std::move(message));
}

std::string listEntries(const PlanFile &plan) {
  std::vector<std::string> names;
  for (const plan::Entry *e : *plan.plan().entries())
    names.push_back(
        fmt::format("'{}'", runtime::printableText(e->name()->str())));
  return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
}

const plan::Tensor &tensorOf(const plan::Entry &entry,
                             const plan::Binding &binding) {
  return *entry.tensors()->Get(binding.tensor());
}

/// The sequence layout of an id input: i64 [B, L] (or [B, L, K] when `k`
/// is given), B symbolic, L (and K) static.
Status checkIdInput(const PlanFile &plan, const plan::Entry &entry,
                    const plan::Binding &binding, int64_t *maxLen,
                    int64_t *maxBatch, int64_t *k) {
  const plan::Tensor &t = tensorOf(entry, binding);
  std::string type = runtime::formatTensorType(plan.plan(), t);
  auto shape = t.shape();
  size_t rank = shape ? shape->size() : 0;
  bool ok = t.dtype() == plan::DType::i64 && (rank == 2 || (k && rank == 3)) &&
            shape->Get(0)->symbol() >= 0 && shape->Get(1)->symbol() < 0 &&
            (rank == 2 || shape->Get(2)->symbol() < 0);
  if (!ok)
    return invalid(fmt::format(
        "{}: entry '{}' input '{}' is {}, but the driver feeds next-item ids "
        "as i64[B, L]{}",
        plan.name(), entry.name()->str(), binding.name()->str(), type,
        k ? " (or i64[B, L, K] for K negatives)" : ""));
  int64_t L = shape->Get(1)->static_size();
  int64_t B = plan.plan().dims()->Get(shape->Get(0)->symbol())->max();
  if (*maxLen && L != *maxLen)
    return invalid(fmt::format(
        "{}: entry '{}' input '{}' has length {}, but 'seq' has {}",
        plan.name(), entry.name()->str(), binding.name()->str(), L, *maxLen));
  *maxLen = L;
  *maxBatch = B;
  if (k)
    *k = rank == 3 ? shape->Get(2)->static_size() : 1;
  return Status::ok();
}

} // namespace

StatusOr<std::string> trainEntryName(const PlanFile &plan,
                                     std::string_view name) {
  std::string chosen(name);
  const plan::TrainConfig *train = plan.plan().train();
  // The first stage that trains (alignment stages have no entry).
  if (chosen.empty() && train && train->stages())
    for (const plan::Stage *stage : *train->stages())
      if (stage->entry() && stage->entry()->size()) {
        chosen = stage->entry()->str();
        break;
      }
  if (chosen.empty())
    chosen = "train_step";
  int index = plan.findEntry(chosen);
  if (index < 0)
    return Status::error(
        Status::Code::NotFound,
        fmt::format("{}: the plan has no training entry '{}' (it has {}); "
                    "compile a model with a `train` section (onerecc "
                    "model.rdsl -o plan.fb)",
                    plan.name(), runtime::printableText(chosen),
                    listEntries(plan)));
  if (plan.entry(index).kind() != plan::EntryKind::TrainStep)
    return invalid(
        fmt::format("{}: entry '{}' is a {} entry, not a TrainStep",
                    plan.name(), runtime::printableText(chosen),
                    plan::EnumNameEntryKind(plan.entry(index).kind())));
  return chosen;
}

StatusOr<NextItemInputs> inspectTrainEntry(const PlanFile &plan,
                                           std::string_view name) {
  int index = plan.findEntry(name);
  if (index < 0)
    return Status::error(Status::Code::NotFound,
                         fmt::format("{}: no entry '{}'", plan.name(), name));
  const plan::Entry &entry = plan.entry(index);
  NextItemInputs inputs;
  inputs.entry = std::string(name);
  bool seq = false, pos = false, neg = false, labels = false, step = false,
       hparams = false;
  std::vector<std::string> unknown;
  // `seq` first, so that L comes from it.
  for (const plan::Binding *b : *entry.inputs())
    if (b->name()->str() == "seq") {
      if (Status s = checkIdInput(plan, entry, *b, &inputs.maxLen,
                                  &inputs.maxBatch, nullptr);
          !s)
        return s;
      inputs.idBound = tensorOf(entry, *b).index_bound();
      seq = true;
    }
  for (const plan::Binding *b : *entry.inputs()) {
    std::string n = b->name()->str();
    const plan::Tensor &t = tensorOf(entry, *b);
    if (n == "seq")
      continue;
    auto shape = t.shape();
    if (n == "neg" && t.dtype() == plan::DType::i64 && shape &&
        shape->size() == 1 && shape->Get(0)->symbol() < 0 &&
        shape->Get(0)->static_size() > 0) {
      // Negatives shared by the batch: drawn per batch, not per position.
      inputs.sharedNegatives = shape->Get(0)->static_size();
      neg = true;
    } else if (n == "labels") {
      // A cloze model: `labels` [B, L] instead of `pos`.
      int64_t batch = 0;
      if (Status st =
              checkIdInput(plan, entry, *b, &inputs.maxLen, &batch, nullptr);
          !st)
        return st;
      labels = true;
    } else if (n == "pos" || n == "neg") {
      int64_t batch = 0, k = 0;
      if (Status s = checkIdInput(plan, entry, *b, &inputs.maxLen, &batch,
                                  n == "neg" ? &k : nullptr);
          !s)
        return s;
      (n == "pos" ? pos : neg) = true;
      if (n == "neg")
        inputs.negatives = k;
    } else if (n == "optimizer.step" && t.dtype() == plan::DType::i64 &&
               (!t.shape() || t.shape()->size() == 0)) {
      step = true;
    } else if (n == "optimizer.hparams" && t.dtype() == plan::DType::f32 &&
               t.shape() && t.shape()->size() == 1 &&
               t.shape()->Get(0)->symbol() < 0 &&
               t.shape()->Get(0)->static_size() == 8) {
      hparams = true;
    } else {
      unknown.push_back(fmt::format("'{}' ({})", runtime::printableText(n),
                                    runtime::formatTensorType(plan.plan(), t)));
    }
  }
  if (!unknown.empty())
    return Status::error(
        Status::Code::Unsupported,
        fmt::format(
            "{}: entry '{}' needs input{} {} that onerec-run train "
            "cannot feed: it feeds next-item batches (seq, pos, neg [B, L], "
            "[B, L, K] or shared by the batch [N]; or seq and labels "
            "of a cloze model; "
            "SASRec-style models) and the optimizer's step and "
            "hyperparameters",
            plan.name(), name, unknown.size() > 1 ? "s" : "",
            fmt::join(unknown, ", ")));
  std::vector<std::string> missing;
  if (!seq)
    missing.push_back("seq");
  if (!pos && !labels)
    missing.push_back("pos (or labels, for a cloze model)");
  if (!step)
    missing.push_back("optimizer.step (i64[])");
  if (!hparams)
    missing.push_back("optimizer.hparams (f32[8])");
  if (!missing.empty())
    return invalid(fmt::format("{}: entry '{}' lacks the input{} {} the "
                               "driver needs",
                               plan.name(), name, missing.size() > 1 ? "s" : "",
                               fmt::join(missing, ", ")));
  if (!neg || inputs.sharedNegatives)
    inputs.negatives = 0;
  if (labels && pos)
    return invalid(fmt::format(
        "{}: entry '{}' takes both 'pos' (next-item) and 'labels' (cloze); "
        "the driver feeds one or the other",
        plan.name(), name));
  if (labels) {
    inputs.cloze = true;
    inputs.maskToken = inputs.idBound - 1;
    if (inputs.maskToken < 2)
      return invalid(fmt::format(
          "{}: entry '{}' takes 'labels' (a cloze model), but 'seq' declares "
          "no vocabulary with a mask token (its ids need a bound of items + "
          "2)",
          plan.name(), name));
  }
  inputs.optimizerInputs = true;
  for (const char *output : {"loss", "grad_norm"}) {
    bool found = false;
    for (const plan::Binding *b : *entry.outputs())
      found |= b->name()->str() == output;
    if (!found)
      return invalid(fmt::format("{}: entry '{}' has no output '{}'",
                                 plan.name(), name, output));
  }
  return inputs;
}

StatusOr<NextItemInputs> inspectForwardEntry(const PlanFile &plan,
                                             std::string_view name) {
  int index = plan.findEntry(name);
  if (index < 0)
    return Status::error(
        Status::Code::NotFound,
        fmt::format("{}: no entry '{}' to score items with (it has {})",
                    plan.name(), name, listEntries(plan)));
  const plan::Entry &entry = plan.entry(index);
  NextItemInputs inputs;
  inputs.entry = std::string(name);
  if (entry.inputs()->size() != 1 ||
      entry.inputs()->Get(0)->name()->str() != "seq")
    return Status::error(
        Status::Code::Unsupported,
        fmt::format("{}: entry '{}' must take exactly one input 'seq' "
                    "(i64[B, L]) to be evaluated as a next-item model",
                    plan.name(), name));
  const plan::Binding &seq = *entry.inputs()->Get(0);
  if (Status s = checkIdInput(plan, entry, seq, &inputs.maxLen,
                              &inputs.maxBatch, nullptr);
      !s)
    return s;
  inputs.idBound = tensorOf(entry, seq).index_bound();
  if (entry.outputs()->size() != 1)
    return invalid(fmt::format("{}: entry '{}' must return one tensor of "
                               "scores [B, items + 1]",
                               plan.name(), name));
  const plan::Tensor &scores = tensorOf(entry, *entry.outputs()->Get(0));
  auto shape = scores.shape();
  bool ok =
      scores.dtype() == plan::DType::f32 && shape && shape->size() == 2 &&
      shape->Get(1)->symbol() < 0 &&
      (inputs.idBound == 0 || shape->Get(1)->static_size() == inputs.idBound);
  if (!ok)
    return invalid(fmt::format(
        "{}: entry '{}' returns {}, but next-item scores are f32[B, {}] (one "
        "per item id, 0 = padding)",
        plan.name(), name, runtime::formatTensorType(plan.plan(), scores),
        inputs.idBound ? std::to_string(inputs.idBound) : "items + 1"));
  if (inputs.idBound == 0)
    inputs.idBound = shape->Get(1)->static_size();
  return inputs;
}

bool isClozeModel(const PlanFile &plan) {
  StatusOr<std::string> name = trainEntryName(plan, "");
  if (!name)
    return false;
  const plan::Entry &entry = plan.entry(plan.findEntry(*name));
  bool labels = false, pos = false;
  for (const plan::Binding *b : *entry.inputs()) {
    labels |= b->name()->str() == "labels";
    pos |= b->name()->str() == "pos";
  }
  return labels && !pos;
}

Status checkDatasetFits(const NextItemInputs &inputs, const PlanFile &plan,
                        const data::Dataset &dataset) {
  if (inputs.cloze && dataset.numItems() + 2 > uint64_t(inputs.idBound))
    return invalid(fmt::format(
        "{}: has {} items, but cloze plan {} takes ids below {} with {} as "
        "its mask token ({} items); compile the model for this dataset, e.g. "
        "onerecc model.rdsl -D items={}",
        dataset.directory(), dataset.numItems(), plan.name(), inputs.idBound,
        inputs.maskToken, inputs.idBound - 2, dataset.numItems()));
  if (inputs.idBound > 0 && dataset.numItems() + 1 > uint64_t(inputs.idBound))
    return invalid(fmt::format(
        "{}: has {} items, but plan {} takes item ids below {} ({} items; "
        "entry '{}' input 'seq'); compile the model for this dataset, e.g. "
        "onerecc model.rdsl -D items={}",
        dataset.directory(), dataset.numItems(), plan.name(), inputs.idBound,
        inputs.idBound - 1, inputs.entry, dataset.numItems()));
  return Status::ok();
}

namespace {

/// A semantic-ID tensor: i64 [B, n, levels] with B symbolic, n and levels
/// static and an index bound (the codebook).
bool isSemanticIds(const plan::Tensor &t) {
  auto shape = t.shape();
  return t.dtype() == plan::DType::i64 && shape && shape->size() == 3 &&
         t.index_bound() > 0 && shape->Get(0)->symbol() >= 0 &&
         shape->Get(1)->symbol() < 0 && shape->Get(2)->symbol() < 0;
}

/// A per-row id: i64 [B], B symbolic.
bool isRowIds(const plan::Tensor &t) {
  auto shape = t.shape();
  return t.dtype() == plan::DType::i64 && shape && shape->size() == 1 &&
         shape->Get(0)->symbol() >= 0;
}

/// The names of `entry`'s data inputs (all but the optimizer's controls).
std::vector<std::string> dataInputs(const plan::Entry &entry) {
  std::vector<std::string> names;
  for (const plan::Binding *b : *entry.inputs())
    if (b->role() != plan::ArgRole::Control)
      names.push_back(b->name()->str());
  std::sort(names.begin(), names.end());
  return names;
}

constexpr const char *kGenerativeFeeds =
    "for a generative model it feeds a user id[B] (the dataset's user id), a "
    "history sid<K>[B, hist, levels] (the codes of the items before the "
    "target, right-aligned, code 0 padding) and a target sid<K>[B, n, "
    "levels] (the next n items' codes), from --data and --catalog";

} // namespace

bool takesSemanticIds(const PlanFile &plan, std::string_view name) {
  int index = plan.findEntry(name);
  if (index < 0)
    return false;
  const plan::Entry &entry = plan.entry(index);
  for (const plan::Binding *b : *entry.inputs())
    if (isSemanticIds(tensorOf(entry, *b)))
      return true;
  return false;
}

StatusOr<GenerativeInputs> inspectGenerativeEntry(const PlanFile &plan,
                                                  std::string_view name,
                                                  bool train) {
  int index = plan.findEntry(name);
  if (index < 0)
    return Status::error(Status::Code::NotFound,
                         fmt::format("{}: no entry '{}'", plan.name(), name));
  const plan::Entry &entry = plan.entry(index);
  GenerativeInputs inputs;
  inputs.entry = std::string(name);
  bool step = false, hparams = false;
  std::vector<std::string> unknown;
  auto describe = [&](const plan::Binding &b, std::string_view note = {}) {
    return fmt::format(
        "'{}' ({}{}{}{})", runtime::printableText(b.name()->str()),
        runtime::formatTensorType(plan.plan(), tensorOf(entry, b)),
        b.role() == plan::ArgRole::Target ? ", target" : "",
        note.empty() ? "" : ", ", note);
  };
  for (const plan::Binding *b : *entry.inputs()) {
    std::string n = b->name()->str();
    const plan::Tensor &t = tensorOf(entry, *b);
    auto shape = t.shape();
    if (train && n == "optimizer.step" && t.dtype() == plan::DType::i64 &&
        (!shape || shape->size() == 0)) {
      step = true;
    } else if (train && n == "optimizer.hparams" &&
               t.dtype() == plan::DType::f32 && shape && shape->size() == 1 &&
               shape->Get(0)->symbol() < 0 &&
               shape->Get(0)->static_size() == 8) {
      hparams = true;
    } else if (isSemanticIds(t) && (b->role() == plan::ArgRole::Input ||
                                    b->role() == plan::ArgRole::Target)) {
      bool target = b->role() == plan::ArgRole::Target;
      std::string &slot = target ? inputs.target : inputs.history;
      if (!slot.empty()) {
        unknown.push_back(
            describe(*b, target ? "a second target" : "a second history"));
        continue;
      }
      slot = n;
      int64_t levels = shape->Get(2)->static_size();
      int64_t length = shape->Get(1)->static_size();
      (target ? inputs.targets : inputs.historyLen) = length;
      if ((inputs.levels && levels != inputs.levels) ||
          (inputs.codebook && t.index_bound() != inputs.codebook))
        return invalid(fmt::format(
            "{}: entry '{}' input {} has other levels or codebook than the "
            "other semantic-ID input ({} levels, codebook {}); the driver "
            "feeds codes from one catalog",
            plan.name(), name, describe(*b), inputs.levels, inputs.codebook));
      inputs.levels = levels;
      inputs.codebook = t.index_bound();
      inputs.maxBatch = plan.plan().dims()->Get(shape->Get(0)->symbol())->max();
    } else if (isRowIds(t) && b->role() == plan::ArgRole::Input) {
      if (!inputs.user.empty()) {
        unknown.push_back(describe(*b, "a second id[B]"));
        continue;
      }
      inputs.user = n;
    } else {
      unknown.push_back(describe(*b));
    }
  }
  if (!unknown.empty())
    return Status::error(
        Status::Code::Unsupported,
        fmt::format("{}: entry '{}' needs input{} {} that onerec-run train "
                    "cannot feed: {}{}; train a model whose entry takes only "
                    "these, or feed the others from a driver of your own "
                    "(onerec-run forward takes any inputs)",
                    plan.name(), name, unknown.size() > 1 ? "s" : "",
                    fmt::join(unknown, ", "), kGenerativeFeeds,
                    train ? ", and the optimizer's step and hyperparameters"
                          : ""));
  std::vector<std::string> missing;
  if (inputs.history.empty())
    missing.push_back("a history sid<K>[B, hist, levels]");
  if (inputs.target.empty())
    missing.push_back("a target sid<K>[B, n, levels]");
  if (train && !step)
    missing.push_back("optimizer.step (i64[])");
  if (train && !hparams)
    missing.push_back("optimizer.hparams (f32[8])");
  if (!missing.empty())
    return invalid(fmt::format("{}: entry '{}' lacks {} that the driver "
                               "needs to train a generative model",
                               plan.name(), name, fmt::join(missing, ", ")));
  inputs.optimizerInputs = train;
  std::vector<const char *> outputs = {"loss"};
  if (train)
    outputs.push_back("grad_norm");
  for (const char *output : outputs) {
    bool found = false;
    for (const plan::Binding *b : *entry.outputs())
      found |= b->name()->str() == output;
    if (!found)
      return invalid(fmt::format("{}: entry '{}' has no output '{}'",
                                 plan.name(), name, output));
  }
  return inputs;
}

std::string validationLossEntry(const PlanFile &plan,
                                std::string_view trainEntry) {
  int index = plan.findEntry(trainEntry);
  if (index < 0)
    return "";
  std::vector<std::string> wanted = dataInputs(plan.entry(index));
  std::string first;
  for (const plan::Entry *e : *plan.plan().entries()) {
    if (e->kind() != plan::EntryKind::Loss || dataInputs(*e) != wanted)
      continue;
    if (e->name()->str() == "ntp")
      return "ntp";
    if (first.empty())
      first = e->name()->str();
  }
  return first;
}

Status checkCatalogFits(const GenerativeInputs &inputs, const PlanFile &plan,
                        const data::Catalog &catalog,
                        const std::string &catalogName,
                        const data::Dataset &dataset) {
  if (catalog.levels() != inputs.levels)
    return invalid(fmt::format(
        "{}: has {} levels of codes, but plan {} (entry '{}' input '{}') "
        "takes semantic IDs of {} levels; tokenize with onerec-tokenize "
        "--levels {} or compile the model with -D levels={}",
        catalogName, catalog.levels(), plan.name(), inputs.entry,
        inputs.history, inputs.levels, inputs.levels, catalog.levels()));
  if (catalog.codebook() > inputs.codebook)
    return invalid(fmt::format(
        "{}: has codes below {}, but plan {} (entry '{}' input '{}') takes "
        "codes below {}; tokenize with onerec-tokenize --codebook {} or "
        "compile the model with -D codebook={}",
        catalogName, catalog.codebook(), plan.name(), inputs.entry,
        inputs.history, inputs.codebook, inputs.codebook, catalog.codebook()));
  return data::checkCatalogCovers(catalog, dataset, catalogName);
}

} // namespace onerec::driver
