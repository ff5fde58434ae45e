//===- GenerativeBatcher.h - semantic-ID batches ----------------*- C++ -*-===//
//
// Batches for generative recommenders (TIGER, OneRec) that read a user's
// history as semantic IDs and write the next items' codes. An example is a
// (user, t) pair: the target is the n items items[t, t + n), the history the
// items before t, truncated to the last `history` slots and right-aligned
// with code 0 padding (data::fillHistoryCodes, the layout generation uses).
//
//   train: every t in [1, trainEnd - n] of each user (full targets only),
//   valid: t = trainEnd (history = the train part), when the valid part
//          holds n items,
//   test:  t = validEnd (history = train + valid).
//
// The order of an epoch is shuffleForEpoch's (the seed, as SequenceBatcher),
// and a Position read after a batch and passed to seek() reproduces the
// batches of an uninterrupted run.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DATA_GENERATIVEBATCHER_H
#define ONEREC_DATA_GENERATIVEBATCHER_H

#include "onerec/Data/Catalog.h"
#include "onerec/Data/Dataset.h"
#include "onerec/Data/SequenceBatcher.h"

#include <cstdint>
#include <vector>

namespace onerec::data {

struct GenerativeBatcherOptions {
  int64_t batchSize = 256; // B
  /// History slots (the plan's `hist`).
  int64_t history = 20;
  /// Items per target (1 for TIGER's next item, the session for OneRec).
  int64_t targets = 1;
  uint64_t seed = 0;
  Split split = Split::Train;
  bool shuffle = true;
  bool dropLast = false;
};

struct GenerativeBatch {
  int64_t batchSize = 0; // B (tensors always have B rows)
  int64_t history = 0;   // hist
  int64_t targets = 0;   // n
  int64_t levels = 0;
  /// Rows [0, rows) are real; rows [rows, B) are all zeros (users -1).
  int64_t rows = 0;
  Position position;

  std::vector<int64_t> users;        // [B] internal user ids
  std::vector<int64_t> historyCodes; // [B, hist, levels], right-aligned
  std::vector<int64_t> targetCodes;  // [B, n, levels]
  std::vector<int64_t> targetItems;  // [B, n] dataset item ids
};

/// Reads `dataset` and `catalog` in place: both must outlive the batcher.
class GenerativeBatcher {
public:
  /// Checks the options and that the catalog has every dataset item; lists
  /// the examples of the split.
  static StatusOr<GenerativeBatcher> create(const Dataset &dataset,
                                            const Catalog &catalog,
                                            const GenerativeBatcherOptions &);

  /// Fills `batch` with the next batch and returns true; at the end of an
  /// epoch returns false and moves to the start of the next epoch.
  bool next(GenerativeBatch &batch);

  Position position() const { return position_; }
  Status seek(Position position);

  uint64_t rowsPerEpoch() const { return examples_.size(); }
  uint64_t batchesPerEpoch() const;
  const GenerativeBatcherOptions &options() const { return options_; }
  /// The (user, t) of row `row` in `epoch`'s order.
  std::pair<uint32_t, uint32_t> exampleAt(uint64_t epoch, uint64_t row);

private:
  GenerativeBatcher(const Dataset &dataset, const Catalog &catalog,
                    const GenerativeBatcherOptions &options)
      : dataset_(&dataset), catalog_(&catalog), options_(options) {}
  void prepareEpoch(uint64_t epoch);

  const Dataset *dataset_;
  const Catalog *catalog_;
  GenerativeBatcherOptions options_;
  /// Examples as user << 32 | t, by user then t.
  std::vector<uint64_t> examples_;
  std::vector<uint64_t> order_; // this epoch's order
  uint64_t orderEpoch_ = UINT64_MAX;
  Position position_;
  std::vector<int64_t> items_; // scratch: a history as int64 ids
};

/// Checks that `catalog` has a semantic ID for every item 1..numItems() of
/// `dataset`; the error names the first missing items and the fix.
Status checkCatalogCovers(const Catalog &catalog, const Dataset &dataset,
                          const std::string &catalogName);

} // namespace onerec::data

#endif // ONEREC_DATA_GENERATIVEBATCHER_H
