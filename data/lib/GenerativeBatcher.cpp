//===- GenerativeBatcher.cpp - semantic-ID batches from mapped shards -----===//

#include "onerec/Data/GenerativeBatcher.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace onerec::data {

using Code = Status::Code;

Status checkCatalogCovers(const Catalog &catalog, const Dataset &dataset,
                          const std::string &catalogName) {
  std::vector<uint64_t> missing;
  uint64_t count = 0;
  for (uint64_t item = 1; item <= dataset.numItems(); ++item)
    if (!catalog.rowOf(int64_t(item))) {
      if (missing.size() < 5)
        missing.push_back(item);
      ++count;
    }
  if (count == 0)
    return Status::ok();
  return Status::error(
      Code::InvalidArgument,
      fmt::format("{}: has no semantic ID for {} of the {} items of {} "
                  "(e.g. item{} {}); tokenize this dataset's items "
                  "(onerec-tokenize --data {} ...)",
                  catalogName, count, dataset.numItems(), dataset.directory(),
                  missing.size() > 1 ? "s" : "", fmt::join(missing, ", "),
                  dataset.directory()));
}

StatusOr<GenerativeBatcher>
GenerativeBatcher::create(const Dataset &dataset, const Catalog &catalog,
                          const GenerativeBatcherOptions &options) {
  auto invalid = [](std::string message) {
    return Status::error(Code::InvalidArgument, std::move(message));
  };
  if (options.batchSize <= 0)
    return invalid(fmt::format("batch size {} must be > 0", options.batchSize));
  if (options.history <= 0)
    return invalid(
        fmt::format("history length {} must be > 0", options.history));
  if (options.targets <= 0)
    return invalid(
        fmt::format("items per target {} must be > 0", options.targets));
  if (dataset.numUsers() > UINT32_MAX)
    return Status::error(Code::Unsupported, "more than 2^32 users");
  if (Status s = checkCatalogCovers(catalog, dataset, "the catalog"); !s)
    return s;
  GenerativeBatcher batcher(dataset, catalog, options);
  uint64_t n = uint64_t(options.targets);
  for (uint64_t u = 0; u < dataset.numUsers(); ++u) {
    uint64_t trainEnd = dataset.trainEnd(u), validEnd = dataset.validEnd(u);
    uint64_t length = dataset.length(u);
    auto add = [&](uint64_t t) { batcher.examples_.push_back(u << 32 | t); };
    switch (options.split) {
    case Split::Train:
      for (uint64_t t = 1; t + n <= trainEnd; ++t)
        add(t);
      break;
    case Split::Valid:
      if (trainEnd >= 1 && trainEnd + n <= validEnd)
        add(trainEnd);
      break;
    case Split::Test:
      if (validEnd >= 1 && validEnd + n <= length)
        add(validEnd);
      break;
    }
  }
  if (batcher.examples_.empty())
    return invalid(fmt::format(
        "{}: no {} examples (no user has {} {} item{} after a non-empty "
        "history)",
        dataset.directory(), splitName(options.split), n,
        splitName(options.split), n > 1 ? "s" : ""));
  return batcher;
}

uint64_t GenerativeBatcher::batchesPerEpoch() const {
  uint64_t b = uint64_t(options_.batchSize);
  return options_.dropLast ? examples_.size() / b
                           : (examples_.size() + b - 1) / b;
}

void GenerativeBatcher::prepareEpoch(uint64_t epoch) {
  if (orderEpoch_ == epoch)
    return;
  order_ = examples_;
  if (options_.shuffle)
    shuffleForEpoch(order_, options_.seed, epoch);
  orderEpoch_ = epoch;
}

std::pair<uint32_t, uint32_t> GenerativeBatcher::exampleAt(uint64_t epoch,
                                                           uint64_t row) {
  prepareEpoch(epoch);
  uint64_t e = order_.at(row);
  return {uint32_t(e >> 32), uint32_t(e & 0xffffffffu)};
}

Status GenerativeBatcher::seek(Position position) {
  if (position.nextRow > examples_.size())
    return Status::error(Code::InvalidArgument,
                         fmt::format("position row {} is past the {} examples "
                                     "of an epoch",
                                     position.nextRow, examples_.size()));
  position_ = position;
  return Status::ok();
}

bool GenerativeBatcher::next(GenerativeBatch &batch) {
  uint64_t total = examples_.size();
  uint64_t B = uint64_t(options_.batchSize);
  uint64_t remaining = total - std::min(total, position_.nextRow);
  if (remaining == 0 || (options_.dropLast && remaining < B)) {
    position_ = Position{position_.epoch + 1, 0};
    return false;
  }
  prepareEpoch(position_.epoch);
  int64_t H = options_.history, n = options_.targets;
  int64_t levels = catalog_->levels();
  int64_t take = int64_t(std::min(B, remaining));
  batch.batchSize = options_.batchSize;
  batch.history = H;
  batch.targets = n;
  batch.levels = levels;
  batch.rows = take;
  batch.position = position_;
  batch.users.assign(B, -1);
  batch.historyCodes.assign(B * size_t(H * levels), 0);
  batch.targetCodes.assign(B * size_t(n * levels), 0);
  batch.targetItems.assign(B * size_t(n), 0);
  for (int64_t r = 0; r < take; ++r) {
    uint64_t e = order_[position_.nextRow + uint64_t(r)];
    uint64_t user = e >> 32, t = e & 0xffffffffu;
    UserSequence s = dataset_->user(user);
    batch.users[size_t(r)] = int64_t(user);
    size_t first = t > uint64_t(H) ? t - uint64_t(H) : 0;
    items_.assign(s.items + first, s.items + t);
    // create() checked that the catalog has every item: this cannot fail.
    (void)fillHistoryCodes(*catalog_, items_.data(), items_.size(), H,
                           /*truncate=*/true,
                           batch.historyCodes.data() + r * H * levels);
    for (int64_t j = 0; j < n; ++j) {
      int64_t item = s.items[t + uint64_t(j)];
      batch.targetItems[size_t(r * n + j)] = item;
      const int32_t *codes = catalog_->codes(*catalog_->rowOf(item));
      std::copy(codes, codes + levels,
                batch.targetCodes.begin() + (r * n + j) * levels);
    }
  }
  position_.nextRow += uint64_t(take);
  return true;
}

} // namespace onerec::data
