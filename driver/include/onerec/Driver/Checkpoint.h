//===- Checkpoint.h - atomic training checkpoints ---------------*- C++ -*-===//
//
// A checkpoint of update N in the checkpoint directory is two files:
//
//   ckpt-000000000N.safetensors   every parameter of the plan, optimizer
//                                 state included (ParameterStore layout)
//   ckpt-000000000N.json          the metadata; written last
//
// Saving writes the weights to `<name>.partial`, fsyncs it, renames it into
// place and fsyncs the directory (so the rename is durable before any
// metadata refers to it), then writes the metadata the same way and fsyncs
// the directory again. A
// checkpoint is complete only once its .json exists, so a run killed at any
// moment leaves at worst a stray .partial or a weights file without
// metadata, which loading ignores and the next save removes: the latest
// complete checkpoint is always intact. The metadata records the weights'
// size and FNV-1a 64 checksum, so a damaged weights file is refused with a
// clear error rather than loaded.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_CHECKPOINT_H
#define ONEREC_DRIVER_CHECKPOINT_H

#include "onerec/Driver/Hyperparams.h"
#include "onerec/Runtime/Status.h"
#include "onerec/Runtime/Weights.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace onerec::driver {

/// What a checkpoint's .json holds besides the weights.
struct CheckpointMeta {
  /// Updates done (the next update is step + 1).
  int64_t step = 0;
  /// The epoch (1-based) of the last batch trained on.
  int64_t epoch = 1;
  /// Examples (batch rows) trained on so far.
  int64_t examples = 0;
  uint64_t seed = 0;
  /// Seconds of training before this checkpoint (wall_s continues).
  double wallS = 0;
  /// The plan it belongs to: a checkpoint of another plan is refused.
  std::string planSourceHash;
  std::string planModel;
  /// The effective hyperparameters (Hyperparams::toJson).
  Hyperparams hyperparams;
  /// The data reader's position (a JSON object, opaque here).
  std::string dataPosition = "{}";
  /// Which dataset (a JSON object, opaque here: directory, counts).
  std::string dataset = "{}";
  /// How the run was made (a JSON object, opaque here: threads, total
  /// steps), to warn when a resume differs.
  std::string run = "{}";

  // Filled by save / read:
  std::string weightsFile; // relative to the checkpoint directory
  uint64_t weightsBytes = 0;
  uint64_t weightsChecksum = 0; // FNV-1a 64 of the file
};

/// FNV-1a 64 of the bytes of a file (`path` in errors).
runtime::StatusOr<uint64_t> fileChecksum(const std::string &path);

/// The checkpoints of one directory.
class CheckpointDir {
public:
  /// `dir` is created (with its parents) by the first save.
  explicit CheckpointDir(std::string dir) : dir_(std::move(dir)) {}

  const std::string &dir() const { return dir_; }
  /// "DIR/ckpt-000000000N.json" and ".safetensors".
  std::string metaPath(int64_t step) const;
  std::string weightsPath(int64_t step) const;

  /// Writes the checkpoint of `meta.step` atomically, then keeps only the
  /// newest `keep` complete checkpoints (0 = keep all) and removes leftovers
  /// of interrupted saves.
  runtime::Status save(const runtime::ParameterStore &params,
                       CheckpointMeta meta, int keep);

  /// The steps of the complete checkpoints (a .json present), oldest first.
  runtime::StatusOr<std::vector<int64_t>> list() const;
  /// The newest complete checkpoint's metadata, checked (readable, weights
  /// present with the recorded size), or nullopt when there is none.
  runtime::StatusOr<std::optional<CheckpointMeta>> latest() const;
  /// The metadata of the checkpoint of `step`.
  runtime::StatusOr<CheckpointMeta> read(int64_t step) const;
  /// Loads the weights of `meta` into `params` after verifying the file's
  /// checksum (`report` as ParameterStore::loadSafetensors').
  runtime::Status load(const CheckpointMeta &meta,
                       runtime::ParameterStore &params,
                       runtime::CheckpointLoadReport *report = nullptr) const;

  /// For tests: called at each stage of save ("weights-written",
  /// "weights-renamed", "meta-written"); returning false stops the save
  /// there as a crash would (the files stay as they are).
  std::function<bool(const char *stage)> crashHook;

private:
  std::string dir_;
};

/// Serializes and parses the metadata (`what` names the file in errors).
std::string formatCheckpointMeta(const CheckpointMeta &meta);
runtime::StatusOr<CheckpointMeta> parseCheckpointMeta(const std::string &text,
                                                      const std::string &what);

/// Makes `path` durable: fsync of the file or directory.
runtime::Status syncPath(const std::string &path, bool directory);

} // namespace onerec::driver

#endif // ONEREC_DRIVER_CHECKPOINT_H
