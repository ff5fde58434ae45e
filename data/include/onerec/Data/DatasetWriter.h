//===- DatasetWriter.h - splitting and writing a dataset ----------*- C++
//-*-===//
//
// The in-memory form of a dataset on its way to disk (import and synth build
// one), the split policies that set each user's (trainEnd, validEnd), and the
// writer: shards, dataset.json and the id maps go to a temporary directory
// next to the output, which is renamed into place only when everything is
// written, so a failed write never leaves half a dataset.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DATA_DATASETWRITER_H
#define ONEREC_DATA_DATASETWRITER_H

#include "onerec/Data/ShardFormat.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace onerec::data {

/// Users in CSR form with dense ids: user u's items are
/// items[rowOffsets[u], rowOffsets[u + 1]), in chronological order.
struct DatasetContents {
  std::vector<std::string> userIds; // raw id of internal user u
  std::vector<std::string> itemIds; // raw id of internal item i + 1
  std::vector<uint64_t> rowOffsets{0};
  std::vector<int32_t> items;
  std::vector<int64_t> timestamps; // empty, or one per item
  std::vector<std::string> labelNames;
  std::vector<std::vector<float>> labels; // per label, one per item
  /// Per user (trainEnd, validEnd); set by applySplit.
  std::vector<uint32_t> splits;
  /// Recorded in the manifest as is.
  nlohmann::json source = nlohmann::json::object();
  nlohmann::json split = nlohmann::json::object();
  nlohmann::json extra = nlohmann::json::object();

  uint64_t numUsers() const { return rowOffsets.size() - 1; }
};

struct SplitPolicy {
  enum class Kind { None, LeaveOneOut, Time } kind = Kind::LeaveOneOut;
  /// Time: items with timestamp < validFrom train, < testFrom valid, the rest
  /// test.
  int64_t validFrom = 0;
  int64_t testFrom = 0;
};

/// Parses "loo", "time" or "none".
StatusOr<SplitPolicy::Kind> parseSplitKind(const std::string &text);

/// Sets contents.splits and contents.split (the manifest's "split" object,
/// with counts). Leave-one-out: a user with n >= 3 items trains on the first
/// n - 2, validates on item n - 2 and tests on item n - 1; a user with fewer
/// than 3 items is all train (as SASRec). Time: by timestamp (needs
/// timestamps).
Status applySplit(DatasetContents &contents, const SplitPolicy &policy);

struct WriteOptions {
  std::string outDir;
  uint64_t shardUsers = 8192;
  /// Replace an existing output directory (else it is an error).
  bool overwrite = false;
};

/// Writes `contents` (split already applied) as a dataset directory.
Status writeDataset(const DatasetContents &contents,
                    const WriteOptions &options);

/// Sorts raw ids numerically when every id is a non-negative integer, else
/// as strings, and returns the permutation (position -> original index).
std::vector<size_t> sortedIdOrder(const std::vector<std::string> &ids);

} // namespace onerec::data

#endif // ONEREC_DATA_DATASETWRITER_H
