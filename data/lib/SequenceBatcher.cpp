//===- SequenceBatcher.cpp - next-item batches from mapped shards ---------===//

#include "onerec/Data/SequenceBatcher.h"
#include "onerec/Data/Random.h"

#include <fmt/format.h>

#include <algorithm>

namespace onerec::data {

using Code = Status::Code;

StatusOr<SequenceBatcher>
SequenceBatcher::create(const Dataset &dataset, const BatcherOptions &options) {
  auto invalid = [](std::string message) {
    return Status::error(Code::InvalidArgument, std::move(message));
  };
  if (options.batchSize <= 0)
    return invalid(fmt::format("batch size {} must be > 0", options.batchSize));
  if (options.maxLen <= 0)
    return invalid(fmt::format("max length {} must be > 0", options.maxLen));
  if (options.negatives < 0 || options.evalNegatives < 0)
    return invalid("negative counts must be >= 0");
  if (dataset.numItems() == 0)
    return invalid("the dataset has no items");
  if (dataset.numUsers() > UINT32_MAX)
    return Status::error(Code::Unsupported, "more than 2^32 users");
  SequenceBatcher batcher(dataset, options);
  for (uint64_t u = 0; u < dataset.numUsers(); ++u) {
    bool eligible;
    if (options.split == Split::Train) {
      eligible = dataset.trainEnd(u) >= 2;
    } else {
      uint32_t begin = options.split == Split::Valid ? dataset.trainEnd(u)
                                                     : dataset.validEnd(u);
      uint32_t end = options.split == Split::Valid ? dataset.validEnd(u)
                                                   : dataset.length(u);
      eligible = begin > 0 && begin < end;
    }
    if (eligible)
      batcher.rows_.push_back(static_cast<uint32_t>(u));
  }
  if (batcher.rows_.empty())
    return invalid(fmt::format(
        "{}: no {} rows ({})", dataset.directory(), splitName(options.split),
        options.split == Split::Train
            ? "no user has 2 or more train items"
            : "no user has a target with a non-empty history"));
  return batcher;
}

uint64_t SequenceBatcher::batchesPerEpoch() const {
  uint64_t b = static_cast<uint64_t>(options_.batchSize);
  return options_.dropLast ? rows_.size() / b : (rows_.size() + b - 1) / b;
}

void SequenceBatcher::prepareEpoch(uint64_t epoch) {
  if (orderEpoch_ == epoch)
    return;
  order_ = rows_;
  if (options_.shuffle)
    shuffleForEpoch(order_, options_.seed, epoch);
  orderEpoch_ = epoch;
}

uint64_t SequenceBatcher::userAt(uint64_t epoch, uint64_t row) {
  prepareEpoch(epoch);
  return order_.at(row);
}

Status SequenceBatcher::seek(Position position) {
  if (position.nextRow > rows_.size())
    return Status::error(Code::InvalidArgument,
                         fmt::format("position row {} is past the {} rows of "
                                     "an epoch",
                                     position.nextRow, rows_.size()));
  position_ = position;
  return Status::ok();
}

int64_t SequenceBatcher::sampleNegative(KeyedRandom &rng,
                                        const std::vector<int32_t> &history,
                                        int32_t extra) {
  uint64_t n = dataset_->numItems();
  bool extraNew =
      extra > 0 && !std::binary_search(history.begin(), history.end(), extra);
  if (history.size() + (extraNew ? 1 : 0) >= n)
    return 0; // every item is in the history: no negative exists
  for (;;) {
    int32_t item = static_cast<int32_t>(1 + rng.below(n));
    if (item != extra &&
        !std::binary_search(history.begin(), history.end(), item))
      return item;
  }
}

void SequenceBatcher::fillTrainRow(SequenceBatch &batch, int64_t r,
                                   uint64_t row, uint64_t user) {
  UserSequence s = dataset_->user(user);
  int64_t L = options_.maxLen, K = options_.negatives;
  int64_t n = s.trainEnd;
  int64_t m = std::min<int64_t>(n - 1, L);
  int64_t base = r * L + (L - m);
  for (int64_t j = 0; j < m; ++j) {
    batch.seq[base + j] = s.items[n - 1 - m + j];
    batch.pos[base + j] = s.items[n - m + j];
  }
  if (K == 0)
    return;
  history_.assign(s.items, s.items + n);
  std::sort(history_.begin(), history_.end());
  history_.erase(std::unique(history_.begin(), history_.end()), history_.end());
  KeyedRandom rng(options_.seed,
                  static_cast<uint64_t>(RandomPurpose::TrainNegatives),
                  position_.epoch, row);
  for (int64_t j = 0; j < m; ++j)
    for (int64_t k = 0; k < K; ++k)
      batch.neg[(base + j) * K + k] = sampleNegative(rng, history_, 0);
}

void SequenceBatcher::fillEvalRow(SequenceBatch &batch, int64_t r, uint64_t row,
                                  uint64_t user) {
  UserSequence s = dataset_->user(user);
  int64_t L = options_.maxLen;
  int64_t b = static_cast<int64_t>(s.begin(options_.split));
  int64_t m = std::min<int64_t>(b, L);
  int64_t base = r * L + (L - m);
  for (int64_t j = 0; j < m; ++j)
    batch.seq[base + j] = s.items[b - m + j];
  int32_t target = s.items[b];
  batch.target[r] = target;
  history_.assign(s.items, s.items + b);
  std::sort(history_.begin(), history_.end());
  history_.erase(std::unique(history_.begin(), history_.end()), history_.end());
  batch.historyItems.insert(batch.historyItems.end(), history_.begin(),
                            history_.end());
  batch.historyOffsets.push_back(
      static_cast<int64_t>(batch.historyItems.size()));
  int64_t C = batch.candidatesPerRow;
  if (C == 0)
    return;
  batch.candidates[r * C] = target;
  KeyedRandom rng(options_.seed,
                  static_cast<uint64_t>(RandomPurpose::EvalCandidates),
                  position_.epoch, row);
  for (int64_t k = 1; k < C; ++k)
    batch.candidates[r * C + k] = sampleNegative(rng, history_, target);
}

bool SequenceBatcher::next(SequenceBatch &batch) {
  uint64_t total = rows_.size();
  uint64_t B = static_cast<uint64_t>(options_.batchSize);
  uint64_t remaining = total - std::min(total, position_.nextRow);
  if (remaining == 0 || (options_.dropLast && remaining < B)) {
    position_ = Position{position_.epoch + 1, 0};
    return false;
  }
  prepareEpoch(position_.epoch);
  bool train = options_.split == Split::Train;
  int64_t L = options_.maxLen;
  int64_t take = static_cast<int64_t>(std::min(B, remaining));
  batch.batchSize = options_.batchSize;
  batch.maxLen = L;
  batch.negatives = train ? options_.negatives : 0;
  batch.candidatesPerRow =
      !train && options_.evalNegatives ? 1 + options_.evalNegatives : 0;
  batch.rows = take;
  batch.position = position_;
  size_t cells = static_cast<size_t>(options_.batchSize * L);
  batch.users.assign(B, -1);
  batch.seq.assign(cells, 0);
  batch.pos.assign(train ? cells : 0, 0);
  batch.neg.assign(train ? cells * options_.negatives : 0, 0);
  batch.target.assign(train ? 0 : B, 0);
  batch.candidates.assign(B * batch.candidatesPerRow, 0);
  batch.historyOffsets.assign(train ? 0 : 1, 0);
  batch.historyItems.clear();
  for (int64_t r = 0; r < take; ++r) {
    uint64_t row = position_.nextRow + r;
    uint64_t user = order_[row];
    batch.users[r] = static_cast<int64_t>(user);
    if (train)
      fillTrainRow(batch, r, row, user);
    else
      fillEvalRow(batch, r, row, user);
  }
  position_.nextRow += take;
  return true;
}

} // namespace onerec::data
