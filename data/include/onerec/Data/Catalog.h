//===- Catalog.h - items, their semantic IDs and the code trie --*- C++ -*-===//
//
// A catalog maps every item of a dataset to its semantic ID: `levels` codes,
// each below `codebook` (onerec-tokenize's RQ-KMeans, docs/tokenizer.md).
// Codes are unique per item, so the trie of codes, root to leaf, spells
// exactly the catalog's items: constrained beam search walks it so that
// every generated item is real.
//
// On disk a catalog is one safetensors file (docs/tokenizer.md, "Catalog
// file"): the item ids, the code table, the trie in CSR form, the codebooks
// and the tokenizer's statistics in the metadata. load() checks all of it
// (shapes, code ranges, unique codes, the trie against the table) and says
// what is wrong with the file's name.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DATA_CATALOG_H
#define ONEREC_DATA_CATALOG_H

#include "onerec/Runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace onerec::data {

class Catalog {
public:
  /// The trie's root node.
  static constexpr int32_t kRoot = 0;

  /// A catalog from a code table: `codes` is [itemIds.size(), levels],
  /// row-major. Fails when a code is out of range, an item id repeats or
  /// two items share all their codes.
  static runtime::StatusOr<Catalog> fromCodes(int64_t levels, int64_t codebook,
                                              std::vector<int64_t> itemIds,
                                              std::vector<int32_t> codes);
  static runtime::StatusOr<Catalog> load(const std::string &path);
  /// Writes the catalog (and `codebooks`, [levels][codebook * dim], with
  /// `metadata` as safetensors metadata) atomically.
  runtime::Status
  save(const std::string &path,
       const std::vector<std::vector<float>> &codebooks = {}, int64_t dim = 0,
       const std::vector<std::pair<std::string, std::string>> &metadata = {})
      const;

  int64_t levels() const { return levels_; }
  int64_t codebook() const { return codebook_; }
  /// Number of items.
  size_t size() const { return itemIds_.size(); }
  /// The dataset item id of catalog row `row`.
  int64_t itemId(size_t row) const { return itemIds_[row]; }
  /// The `levels` codes of catalog row `row`.
  const int32_t *codes(size_t row) const {
    return codes_.data() + row * levels_;
  }
  /// The catalog row of a dataset item id, if the catalog has it.
  std::optional<size_t> rowOf(int64_t itemId) const;

  /// The child of trie node `node` through `code`, or -1.
  int32_t child(int32_t node, int32_t code) const;
  /// The codes leaving `node`, ascending ([begin, end) of childCodes()).
  size_t childBegin(int32_t node) const { return offsets_[node]; }
  size_t childEnd(int32_t node) const { return offsets_[node + 1]; }
  const std::vector<int32_t> &childCodes() const { return edgeCodes_; }
  const std::vector<int32_t> &childNodes() const { return edgeNodes_; }
  /// The catalog row a leaf (a node at depth `levels`) spells, or -1.
  int64_t leafRow(int32_t node) const;
  size_t nodes() const { return offsets_.size() - 1; }

  /// The codebooks load() read ([levels][codebook * codebookDim()]), empty
  /// when the file has none (a catalog built from codes only).
  const std::vector<std::vector<float>> &codebooks() const {
    return codebooks_;
  }
  int64_t codebookDim() const { return codebookDim_; }
  /// The tokenizer's statistics (JSON text) from the file's metadata, or "".
  const std::string &stats() const { return stats_; }

private:
  int64_t levels_ = 0;
  int64_t codebook_ = 0;
  std::vector<int64_t> itemIds_;
  std::vector<int32_t> codes_;
  std::unordered_map<int64_t, size_t> rowOfItem_;
  /// Trie in CSR form: node n's edges are [offsets_[n], offsets_[n + 1]),
  /// sorted by code; leaves have no edges and a row in leafRows_.
  std::vector<uint32_t> offsets_;
  std::vector<int32_t> edgeCodes_;
  std::vector<int32_t> edgeNodes_;
  std::vector<int64_t> leafRows_; // per node, -1 for inner nodes
  std::vector<std::vector<float>> codebooks_;
  int64_t codebookDim_ = 0;
  std::string stats_;
};

/// Writes the semantic IDs of a history, `count` dataset item ids oldest
/// first, into `out` ([slots, levels], row-major), right-aligned: the most
/// recent item in the last slot, the slots before the first item padded
/// with code 0 at every level. With `truncate` only the last `slots` items
/// are kept (training windows); without, a longer history is an error
/// (a request). An item the catalog lacks is an error naming it.
runtime::Status fillHistoryCodes(const Catalog &catalog, const int64_t *items,
                                 size_t count, int64_t slots, bool truncate,
                                 int64_t *out);

} // namespace onerec::data

#endif // ONEREC_DATA_CATALOG_H
