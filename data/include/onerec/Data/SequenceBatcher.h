//===- SequenceBatcher.h - next-item batches for SASRec-style models -*- C++
//-*-===//
//
// Turns a Dataset into int64 row-major batches, streaming from the mapped
// shards. Train batches pair every position of a user's train sequence with
// the next item (pos) and sampled negatives (neg); eval batches give the
// history before a held-out target, the target, optionally sampled
// candidates, and the history item set for masking.
//
// Everything random is a pure function of (seed, epoch, row in epoch): the
// user order of an epoch and the negatives of a row. A Position {epoch,
// nextRow} read after any batch and passed to seek() therefore reproduces
// exactly the batches an uninterrupted run would have produced.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DATA_SEQUENCEBATCHER_H
#define ONEREC_DATA_SEQUENCEBATCHER_H

#include "onerec/Data/Dataset.h"
#include "onerec/Data/Random.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace onerec::data {

struct BatcherOptions {
  int64_t batchSize = 128; // B
  int64_t maxLen = 50;     // L
  /// Train: negatives per position K (0: no neg tensor).
  int64_t negatives = 1;
  /// Eval: sampled negatives per row after the target in `candidates`
  /// (100 for the sampled-100 protocol; 0: no candidates tensor).
  int64_t evalNegatives = 0;
  uint64_t seed = 0;
  Split split = Split::Train;
  bool shuffle = true;
  bool dropLast = false;
};

/// Where the next batch starts: row `nextRow` of epoch `epoch`'s order.
struct Position {
  uint64_t epoch = 0;
  uint64_t nextRow = 0;
  bool operator==(const Position &o) const {
    return epoch == o.epoch && nextRow == o.nextRow;
  }
};

/// Puts `rows` in epoch `epoch`'s order: a Fisher-Yates shuffle keyed by
/// (seed, RandomPurpose::Shuffle, epoch), shared by the batchers so that
/// every data order of a run is a pure function of its seed.
template <typename T>
void shuffleForEpoch(std::vector<T> &rows, uint64_t seed, uint64_t epoch) {
  KeyedRandom rng(seed, static_cast<uint64_t>(RandomPurpose::Shuffle), epoch);
  for (size_t i = rows.size(); i > 1; --i)
    std::swap(rows[i - 1], rows[rng.below(i)]);
}

struct SequenceBatch {
  int64_t batchSize = 0;        // B (tensors always have B rows)
  int64_t maxLen = 0;           // L
  int64_t negatives = 0;        // K (train)
  int64_t candidatesPerRow = 0; // 1 + evalNegatives (eval)
  /// Rows [0, rows) are real; rows [rows, B) are all zeros (users -1).
  int64_t rows = 0;
  /// Where this batch started.
  Position position;

  std::vector<int64_t> users; // [B] internal user ids
  std::vector<int64_t> seq;   // [B, L] left-padded with 0, most recent last
  // Train.
  std::vector<int64_t> pos; // [B, L] next item at each position, 0 at padding
  std::vector<int64_t> neg; // [B, L, K] (K == 1: [B, L]), 0 at padding
  // Eval.
  std::vector<int64_t> target;     // [B]
  std::vector<int64_t> candidates; // [B, 1 + evalNegatives], target first
  /// History item sets (sorted, unique) of each real row in CSR form: row r's
  /// are historyItems[historyOffsets[r], historyOffsets[r + 1]).
  std::vector<int64_t> historyOffsets; // [rows + 1]
  std::vector<int64_t> historyItems;
};

/// Reads `dataset` in place: the dataset must outlive the batcher (and be
/// opened with the default, verifying OpenOptions).
class SequenceBatcher {
public:
  /// Checks the options; lists the rows of the split (users with at least
  /// two train items for train, users with a target and a non-empty history
  /// for valid/test).
  static StatusOr<SequenceBatcher> create(const Dataset &dataset,
                                          const BatcherOptions &options);

  /// Fills `batch` with the next batch and returns true; at the end of an
  /// epoch returns false and moves to the start of the next epoch.
  bool next(SequenceBatch &batch);

  /// Where the next batch starts.
  Position position() const { return position_; }
  /// Continues from `position` (as read from position()).
  Status seek(Position position);

  uint64_t rowsPerEpoch() const { return rows_.size(); }
  uint64_t batchesPerEpoch() const;
  const BatcherOptions &options() const { return options_; }
  /// The user of row `row` in `epoch`'s order.
  uint64_t userAt(uint64_t epoch, uint64_t row);

private:
  SequenceBatcher(const Dataset &dataset, const BatcherOptions &options)
      : dataset_(&dataset), options_(options) {}
  void prepareEpoch(uint64_t epoch);
  void fillTrainRow(SequenceBatch &batch, int64_t r, uint64_t row,
                    uint64_t user);
  void fillEvalRow(SequenceBatch &batch, int64_t r, uint64_t row,
                   uint64_t user);
  int64_t sampleNegative(class KeyedRandom &rng,
                         const std::vector<int32_t> &history, int32_t extra);

  const Dataset *dataset_;
  BatcherOptions options_;
  std::vector<uint32_t> rows_;  // eligible users, ascending
  std::vector<uint32_t> order_; // this epoch's order
  uint64_t orderEpoch_ = UINT64_MAX;
  Position position_;
  std::vector<int32_t> history_; // scratch
};

} // namespace onerec::data

#endif // ONEREC_DATA_SEQUENCEBATCHER_H
