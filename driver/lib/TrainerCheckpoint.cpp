//===- TrainerCheckpoint.cpp - what a checkpoint records, resuming --------===//
//
// A checkpoint holds the parameters with the optimizer state, and in its
// metadata the step, the data position, the hyperparameters, the dataset's
// (and a generative run's catalog's) identity and the run's settings; a
// resumed run checks them against the command line before it continues.
//
//===----------------------------------------------------------------------===//

#include "TrainerState.h"

#include "onerec/Data/Catalog.h"
#include "onerec/Data/ShardFormat.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace onerec::driver {

namespace {

Status invalid(std::string message) {
  return Status::error(Status::Code::InvalidArgument, std::move(message));
}

/// The dataset's content identity: FNV-1a 64 over its shards' names and
/// payload checksums (which the manifest records and Dataset::open checks
/// against the shards), in manifest order.
std::string datasetContent(const data::Dataset &dataset) {
  uint64_t hash = data::fnv1a64(nullptr, 0);
  for (const data::ShardInfo &shard : dataset.manifest().shards) {
    std::string part =
        shard.file + "=" + data::checksumText(shard.checksum) + ";";
    hash = data::fnv1a64(part.data(), part.size(), hash);
  }
  return data::checksumText(hash);
}

std::string datasetJson(const data::Dataset &dataset) {
  nlohmann::ordered_json j;
  j["directory"] = dataset.directory();
  j["users"] = dataset.numUsers();
  j["items"] = dataset.numItems();
  j["interactions"] = dataset.numInteractions();
  j["content"] = datasetContent(dataset);
  return j.dump();
}

/// A catalog's content identity: FNV-1a 64 over its item ids and codes.
std::string catalogContent(const data::Catalog &catalog) {
  uint64_t hash = data::fnv1a64(nullptr, 0);
  for (size_t row = 0; row < catalog.size(); ++row) {
    int64_t item = catalog.itemId(row);
    hash = data::fnv1a64(&item, sizeof item, hash);
    hash = data::fnv1a64(catalog.codes(row),
                         sizeof(int32_t) * size_t(catalog.levels()), hash);
  }
  return data::checksumText(hash);
}

} // namespace

Status Trainer::State::findCheckpoint() {
  StatusOr<std::optional<CheckpointMeta>> latest = ckpt->latest();
  if (!latest)
    return latest.status();
  if (!latest->has_value()) {
    spdlog::info("{}: no checkpoint yet; starting at step 1", ckpt->dir());
    return Status::ok();
  }
  const CheckpointMeta &meta = **latest;
  std::string where = ckpt->metaPath(meta.step);
  std::string hash =
      plan->plan().source_hash() ? plan->plan().source_hash()->str() : "";
  if (meta.planSourceHash != hash)
    return invalid(fmt::format(
        "{}: was written for plan '{}' with source hash {}, but {} has "
        "source hash {}; resume with the plan it was trained with",
        where, meta.planModel, meta.planSourceHash, plan->name(), hash));
  nlohmann::json was = nlohmann::json::parse(meta.dataset, nullptr, false);
  nlohmann::json now = nlohmann::json::parse(datasetJson(*dataset));
  for (const char *key : {"users", "items", "interactions"})
    if (was.is_object() && was.contains(key) && was[key] != now[key])
      return invalid(fmt::format(
          "{}: was trained on a dataset with {} {}, but {} has {}; resume "
          "with the same data",
          where, was[key].dump(), key, dataset->directory(), now[key].dump()));
  if (was.is_object() && was.contains("content")) {
    if (was["content"] != now["content"])
      return invalid(fmt::format(
          "{}: was trained on a dataset with content {} (directory {}), but "
          "{} has content {}: the same counts, other interactions or splits; "
          "resume with the same data",
          where, was["content"].dump(),
          was.value("directory", std::string("?")), dataset->directory(),
          now["content"].dump()));
  } else {
    spdlog::warn("{}: records no dataset content checksum (an older "
                 "checkpoint); only the dataset's counts were compared",
                 where);
  }
  if (options.seed && *options.seed != meta.seed)
    return invalid(fmt::format("{}: was trained with --seed {}, not {}; a "
                               "resumed run keeps its seed",
                               where, meta.seed, *options.seed));
  if (options.batch && *options.batch != meta.hyperparams.batch)
    return invalid(fmt::format("{}: was trained with --batch {}, not {}; a "
                               "resumed run keeps its batch size",
                               where, meta.hyperparams.batch, *options.batch));
  nlohmann::json run = nlohmann::json::parse(meta.run, nullptr, false);
  if (run.is_object() && run.contains("threads") &&
      run["threads"] != nlohmann::json(options.threads))
    spdlog::warn("{}: was trained with --threads {}, this run uses {}: "
                 "losses may differ in the last bits",
                 where, run["threads"].dump(), options.threads);
  if (run.is_object() && run.contains("mask_prob") &&
      run["mask_prob"].is_number()) {
    double was = run["mask_prob"].get<double>();
    if (options.maskProb && *options.maskProb != was)
      return invalid(fmt::format("{}: was trained with --mask-prob {}, not "
                                 "{}; a resumed run keeps its masking",
                                 where, was, *options.maskProb));
    maskProb = was;
  }
  if (generative && run.is_object() && run.contains("catalog") &&
      run["catalog"].is_object()) {
    const nlohmann::json &was = run["catalog"];
    std::string now = catalogContent(*options.catalog);
    if (was.value("content", std::string()) != now)
      return invalid(fmt::format(
          "{}: was trained with catalog {} (content {}), but --catalog {} has "
          "content {}: other semantic IDs; resume with the same catalog",
          where, was.value("path", std::string("?")),
          was.value("content", std::string("?")), options.catalogName, now));
  }
  seed = meta.seed;
  hyper = meta.hyperparams;
  startStep = meta.step;
  wallOffset = meta.wallS;
  examplesBefore = meta.examples;
  resumedFrom = meta.step;
  resumeMeta = meta;
  return Status::ok();
}

Status Trainer::State::restore() {
  const CheckpointMeta &meta = *resumeMeta;
  std::string where = ckpt->metaPath(meta.step);
  nlohmann::json position =
      nlohmann::json::parse(meta.dataPosition, nullptr, false);
  data::Position at;
  try {
    at.epoch = position.at("epoch").get<uint64_t>();
    at.nextRow = position.at("next_row").get<uint64_t>();
  } catch (const std::exception &e) {
    return Status::error(
        Status::Code::Corrupt,
        fmt::format("{}: data_position is unreadable: {}", where, e.what()));
  }
  if (Status s = seekData(at); !s)
    return s.withContext(where);
  runtime::CheckpointLoadReport report;
  if (Status s = ckpt->load(meta, *params, &report); !s)
    return s;
  if (!report.stateReset.empty())
    return invalid(fmt::format("{}: holds no optimizer state ({} missing); "
                               "it cannot be resumed bit-identically",
                               where, report.stateReset.front()));
  return Status::ok();
}

CheckpointMeta Trainer::State::checkpointMeta(int64_t step, double wallS,
                                              int64_t examples) const {
  CheckpointMeta meta;
  meta.step = step;
  data::Position at = dataPosition();
  meta.epoch = int64_t(at.epoch) + 1;
  meta.examples = examples;
  meta.seed = seed;
  meta.wallS = wallS;
  meta.planModel = plan->plan().model() ? plan->plan().model()->str() : "";
  meta.planSourceHash =
      plan->plan().source_hash() ? plan->plan().source_hash()->str() : "";
  meta.hyperparams = hyper;
  meta.dataPosition =
      nlohmann::json{{"epoch", at.epoch}, {"next_row", at.nextRow}}.dump();
  meta.dataset = datasetJson(*dataset);
  nlohmann::json run = {{"threads", options.threads},
                        {"total_steps", totalSteps},
                        {"entry", trainEntry}};
  if (inputs.cloze)
    run["mask_prob"] = maskProb;
  if (generative)
    run["catalog"] = {{"path", options.catalogName},
                      {"items", options.catalog->size()},
                      {"levels", options.catalog->levels()},
                      {"codebook", options.catalog->codebook()},
                      {"content", catalogContent(*options.catalog)}};
  meta.run = run.dump();
  return meta;
}

} // namespace onerec::driver
