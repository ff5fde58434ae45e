//===- Catalog.cpp - TEMP minimal catalog (replaced by gen-tok) -----------===//
//
// TEMPORARY: a minimal implementation of Catalog.h so that generative
// training and its tests build before the tokenizer branch (gen-tok) lands
// with the real one. It reads `item_ids` (I64 [N]) and `codes` (I32 [N,
// levels]) and rebuilds the trie from the codes; it writes no trie tensors.
// Drop this file at the merge in favour of gen-tok's.
//
//===----------------------------------------------------------------------===//

#include "onerec/Data/Catalog.h"

#include "onerec/Runtime/Safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>

namespace onerec::data {

using runtime::DType;
using runtime::Status;
using runtime::StatusOr;
using Code = Status::Code;

StatusOr<Catalog> Catalog::fromCodes(int64_t levels, int64_t codebook,
                                     std::vector<int64_t> itemIds,
                                     std::vector<int32_t> codes) {
  auto invalid = [](std::string message) {
    return Status::error(Code::InvalidArgument, std::move(message));
  };
  if (levels <= 0 || codebook <= 0)
    return invalid(fmt::format("a catalog needs levels ({}) and codebook ({}) "
                               "> 0",
                               levels, codebook));
  if (codes.size() != itemIds.size() * size_t(levels))
    return invalid(fmt::format("{} codes for {} items of {} levels",
                               codes.size(), itemIds.size(), levels));
  Catalog c;
  c.levels_ = levels;
  c.codebook_ = codebook;
  for (size_t row = 0; row < itemIds.size(); ++row) {
    for (int64_t l = 0; l < levels; ++l) {
      int32_t code = codes[row * size_t(levels) + size_t(l)];
      if (code < 0 || code >= codebook)
        return invalid(fmt::format("item {}: code {} at level {} is outside "
                                   "[0, {})",
                                   itemIds[row], code, l, codebook));
    }
    if (!c.rowOfItem_.emplace(itemIds[row], row).second)
      return invalid(fmt::format("item {} appears twice", itemIds[row]));
  }
  // The trie: nodes in insertion order, then edges sorted per node (CSR).
  std::vector<std::map<int32_t, int32_t>> children(1);
  std::vector<int64_t> leafRows(1, -1);
  for (size_t row = 0; row < itemIds.size(); ++row) {
    int32_t node = kRoot;
    for (int64_t l = 0; l < levels; ++l) {
      int32_t code = codes[row * size_t(levels) + size_t(l)];
      auto [it, added] =
          children[size_t(node)].emplace(code, int32_t(children.size()));
      if (added) {
        children.emplace_back();
        leafRows.push_back(-1);
      }
      node = it->second;
    }
    if (leafRows[size_t(node)] >= 0)
      return invalid(fmt::format("items {} and {} share all their codes",
                                 itemIds[size_t(leafRows[size_t(node)])],
                                 itemIds[row]));
    leafRows[size_t(node)] = int64_t(row);
  }
  c.offsets_.push_back(0);
  for (const auto &edges : children) {
    for (auto [code, child] : edges) {
      c.edgeCodes_.push_back(code);
      c.edgeNodes_.push_back(child);
    }
    c.offsets_.push_back(uint32_t(c.edgeCodes_.size()));
  }
  c.leafRows_ = std::move(leafRows);
  c.itemIds_ = std::move(itemIds);
  c.codes_ = std::move(codes);
  return c;
}

StatusOr<Catalog> Catalog::load(const std::string &path) {
  StatusOr<std::unique_ptr<runtime::SafetensorsFile>> file =
      runtime::SafetensorsFile::open(path);
  if (!file)
    return file.status();
  auto corrupt = [&](std::string message) {
    return Status::error(Code::Corrupt,
                         fmt::format("{}: {}", path, std::move(message)));
  };
  const auto &meta = (*file)->metadata();
  auto format = meta.find("format");
  if (format == meta.end() || format->second != "onerec-catalog")
    return corrupt("not a catalog (metadata format is not 'onerec-catalog'; "
                   "make one with onerec-tokenize)");
  const runtime::SafetensorsEntry *ids = (*file)->find("item_ids");
  const runtime::SafetensorsEntry *codes = (*file)->find("codes");
  if (!ids || ids->dtype != DType::i64 || ids->shape.rank != 1)
    return corrupt("needs tensor 'item_ids' I64 [N]");
  if (!codes || codes->dtype != DType::i32 || codes->shape.rank != 2 ||
      codes->shape[0] != ids->shape[0])
    return corrupt("needs tensor 'codes' I32 [N, levels] with N as item_ids");
  int64_t n = ids->shape[0], levels = codes->shape[1];
  std::vector<int64_t> itemIds(static_cast<size_t>(n));
  std::vector<int32_t> table(static_cast<size_t>(n * levels));
  std::memcpy(itemIds.data(), (*file)->data(*ids), itemIds.size() * 8);
  std::memcpy(table.data(), (*file)->data(*codes), table.size() * 4);
  int64_t codebook = 0;
  auto declared = meta.find("codebook");
  if (declared != meta.end())
    codebook = std::atoll(declared->second.c_str());
  if (codebook <= 0)
    for (int32_t c : table)
      codebook = std::max<int64_t>(codebook, int64_t(c) + 1);
  StatusOr<Catalog> catalog =
      fromCodes(levels, codebook, std::move(itemIds), std::move(table));
  if (!catalog)
    return corrupt(catalog.status().message());
  return catalog;
}

Status Catalog::save(
    const std::string &path, const std::vector<std::vector<float>> &codebooks,
    int64_t dim,
    const std::vector<std::pair<std::string, std::string>> &metadata) const {
  std::vector<runtime::NamedTensorView> tensors;
  tensors.push_back({"item_ids",
                     {DType::i64,
                      {int64_t(itemIds_.size())},
                      const_cast<int64_t *>(itemIds_.data())}});
  tensors.push_back({"codes",
                     {DType::i32,
                      {int64_t(itemIds_.size()), levels_},
                      const_cast<int32_t *>(codes_.data())}});
  for (size_t l = 0; l < codebooks.size() && dim > 0; ++l)
    tensors.push_back({fmt::format("codebook.{}", l),
                       {DType::f32,
                        {codebook_, dim},
                        const_cast<float *>(codebooks[l].data())}});
  std::map<std::string, std::string> meta(metadata.begin(), metadata.end());
  meta["format"] = "onerec-catalog";
  meta["levels"] = std::to_string(levels_);
  meta["codebook"] = std::to_string(codebook_);
  return runtime::writeSafetensors(path, tensors, meta);
}

std::optional<size_t> Catalog::rowOf(int64_t itemId) const {
  auto it = rowOfItem_.find(itemId);
  if (it == rowOfItem_.end())
    return std::nullopt;
  return it->second;
}

int32_t Catalog::child(int32_t node, int32_t code) const {
  auto begin = edgeCodes_.begin() + offsets_[size_t(node)];
  auto end = edgeCodes_.begin() + offsets_[size_t(node) + 1];
  auto it = std::lower_bound(begin, end, code);
  if (it == end || *it != code)
    return -1;
  return edgeNodes_[size_t(it - edgeCodes_.begin())];
}

int64_t Catalog::leafRow(int32_t node) const { return leafRows_[size_t(node)]; }

Status fillHistoryCodes(const Catalog &catalog, const int64_t *items,
                        size_t count, int64_t slots, bool truncate,
                        int64_t *out) {
  int64_t levels = catalog.levels();
  if (count > size_t(slots) && !truncate)
    return Status::error(Code::InvalidArgument,
                         fmt::format("a history of {} items is longer than "
                                     "the {} slots",
                                     count, slots));
  size_t kept = std::min(count, size_t(slots));
  const int64_t *first = items + (count - kept);
  int64_t pad = slots - int64_t(kept);
  std::fill(out, out + pad * levels, 0);
  for (size_t i = 0; i < kept; ++i) {
    std::optional<size_t> row = catalog.rowOf(first[i]);
    if (!row)
      return Status::error(
          Code::NotFound,
          fmt::format("item {} is not in the catalog", first[i]));
    const int32_t *codes = catalog.codes(*row);
    for (int64_t l = 0; l < levels; ++l)
      out[(pad + int64_t(i)) * levels + l] = codes[l];
  }
  return Status::ok();
}

} // namespace onerec::data
