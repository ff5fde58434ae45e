//===- BeamSearch.cpp - catalog-constrained beam search, batched ----------===//
//
// The loop of BeamSearch::advance, once per step:
//
//   1. the model scores the fed token of every row of every active request
//      (one StepModel::step);
//   2. per request: after an item's last code only BOS follows (its beams
//      carry over); otherwise the allowed children of each beam's trie node
//      become candidates, the best `width` are kept, and the request is
//      answered when that was its last code;
//   3. queued requests are admitted into the freed slots and rows (their
//      encoder runs batched), starting at BOS;
//   4. the model's caches follow the new rows (StepModel::reorder).
//
// Every buffer is sized at create(); a step allocates nothing.
//
//===----------------------------------------------------------------------===//

#include "onerec/Driver/BeamSearch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

using onerec::runtime::Status;
using onerec::runtime::StatusOr;

namespace onerec::driver {

StepModel::~StepModel() = default;

namespace {

/// The most codes leaving one node of the catalog trie.
int64_t maxFanOut(const data::Catalog &catalog) {
  int64_t most = 0;
  for (size_t node = 0; node < catalog.nodes(); ++node)
    most = std::max<int64_t>(most, int64_t(catalog.childEnd(int32_t(node)) -
                                           catalog.childBegin(int32_t(node))));
  return most;
}

/// log(sum(exp(x))) over `count` logits, in double.
double logSumExp(const float *x, int64_t count) {
  float most = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < count; ++i)
    if (x[i] > most)
      most = x[i];
  if (!std::isfinite(most))
    return most; // all -inf (or +inf): every code scores -inf / NaN
  double sum = 0;
  for (int64_t i = 0; i < count; ++i)
    sum += std::exp(double(x[i]) - double(most));
  return double(most) + std::log(sum);
}

} // namespace

void BeamSearch::Beams::resize(int64_t rows, int64_t codesPerRow,
                               int64_t itemsPerRow) {
  score.assign(size_t(rows), 0.0);
  node.assign(size_t(rows), data::Catalog::kRoot);
  codes.assign(size_t(rows * codesPerRow), 0);
  itemRows.assign(size_t(rows * itemsPerRow), -1);
}

StatusOr<std::unique_ptr<BeamSearch>>
BeamSearch::create(StepModel &model, const data::Catalog &catalog,
                   const BeamSearchOptions &options) {
  auto invalid = [](std::string message) {
    return Status::error(Status::Code::InvalidArgument, std::move(message));
  };
  const DecodeShape &shape = model.shape();
  if (shape.levels <= 0 || shape.codebook <= 0 || shape.items <= 0)
    return invalid(fmt::format("the model decodes {} items of {} levels of {} "
                               "codes; nothing to generate",
                               shape.items, shape.levels, shape.codebook));
  if (catalog.levels() != shape.levels || catalog.codebook() != shape.codebook)
    return invalid(fmt::format(
        "the catalog spells items with {} codes below {}, but the model "
        "decodes {} codes below {}; use the catalog the model was trained "
        "with",
        catalog.levels(), catalog.codebook(), shape.levels, shape.codebook));
  int64_t items = options.items ? options.items : shape.items;
  if (items < 1 || items > shape.items)
    return invalid(fmt::format("{} items per session: the model's decoder "
                               "writes 1 to {} items",
                               items, shape.items));
  if (int64_t(catalog.size()) < items)
    return invalid(fmt::format("the catalog has {} items, fewer than the {} "
                               "distinct items of a session",
                               catalog.size(), items));
  if (options.width < 1 || options.width > model.maxRows())
    return invalid(fmt::format("beam width {}: the model takes 1 to {} rows "
                               "per step",
                               options.width, model.maxRows()));
  if (options.top < 1)
    return invalid(
        fmt::format("top {}: answer at least one session", options.top));
  int64_t maxRows = options.maxRows;
  if (maxRows == 0)
    maxRows = std::min(model.maxRows(), std::max<int64_t>(options.width, 1024));
  if (maxRows < options.width || maxRows > model.maxRows())
    return invalid(fmt::format("{} beam rows per step: need {} to {} (at "
                               "least the beam width)",
                               maxRows, options.width, model.maxRows()));
  int64_t slots = std::min(maxRows / options.width, model.maxSlots());
  if (slots < 1)
    return invalid("the model holds no request slot");

  std::unique_ptr<BeamSearch> search(new BeamSearch(model, catalog, options));
  search->shape_ = shape;
  search->items_ = items;
  search->maxRows_ = maxRows;
  search->slots_ = slots;
  int64_t codesPerRow = items * shape.levels;
  search->beams_.resize(maxRows, codesPerRow, items);
  search->nextBeams_.resize(maxRows, codesPerRow, items);
  for (std::vector<int64_t> *v : {&search->tokens_, &search->positions_,
                                  &search->rowSlots_, &search->lengths_})
    v->assign(size_t(maxRows), 0);
  search->parents_.assign(size_t(maxRows), -1);
  search->candidates_.resize(
      size_t(options.width * std::max<int64_t>(1, maxFanOut(catalog))));
  // Items below each trie node, to never extend a beam into a subtree
  // whose items its session already holds (a dead end).
  search->leaves_.assign(catalog.nodes(), 0);
  for (size_t row = 0; row < catalog.size(); ++row) {
    int32_t node = data::Catalog::kRoot;
    ++search->leaves_[size_t(node)];
    for (int64_t l = 0; l < shape.levels; ++l) {
      node = catalog.child(node, catalog.codes(row)[l]);
      ++search->leaves_[size_t(node)];
    }
  }
  search->active_.reserve(size_t(slots));
  search->nextActive_.reserve(size_t(slots));
  for (int64_t s = slots - 1; s >= 0; --s)
    search->freeSlots_.push_back(s);
  if (Status s = model.reserve(maxRows, slots); !s)
    return s;
  return search;
}

void BeamSearch::submit(uint64_t tag, GenerationRequest request) {
  queue_.push_back({tag, std::move(request)});
}

void BeamSearch::admit(const Callback &done, std::vector<Active> &next,
                       int64_t &nextRows) {
  if (queue_.empty() || freeSlots_.empty())
    return;
  // A request starts with one row and grows to `width`: the slots (at most
  // maxRows / width) bound the rows.
  std::vector<Pending> admitting;
  while (!queue_.empty() && admitting.size() < freeSlots_.size() &&
         nextRows + int64_t(admitting.size() + 1) <= maxRows_) {
    admitting.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  admitted_.clear();
  admittedSlots_.clear();
  for (size_t i = 0; i < admitting.size(); ++i) {
    admitted_.push_back(&admitting[i].request);
    admittedSlots_.push_back(freeSlots_[freeSlots_.size() - 1 - i]);
  }
  freeSlots_.resize(freeSlots_.size() - admitting.size());

  // One batched encoder call; should it fail, each request alone, so that
  // one bad request fails only itself.
  std::vector<Status> encoded(admitting.size());
  Status batch =
      model_.encode(admitted_.data(), admittedSlots_.data(), admitted_.size());
  if (!batch && admitting.size() > 1)
    for (size_t i = 0; i < admitting.size(); ++i)
      encoded[i] = model_.encode(&admitted_[i], &admittedSlots_[i], 1);
  else
    std::fill(encoded.begin(), encoded.end(), batch);

  Clock::time_point now = Clock::now();
  for (size_t i = 0; i < admitting.size(); ++i) {
    int64_t slot = admittedSlots_[i];
    if (!encoded[i]) {
      freeSlots_.push_back(slot);
      done(admitting[i].tag, encoded[i]);
      continue;
    }
    int64_t row = nextRows++;
    nextBeams_.score[size_t(row)] = 0;
    nextBeams_.node[size_t(row)] = data::Catalog::kRoot;
    parents_[size_t(row)] = -1;
    lengths_[size_t(row)] = 0;
    tokens_[size_t(row)] = shape_.bos();
    positions_[size_t(row)] = 0;
    rowSlots_[size_t(row)] = slot;
    Active request;
    request.tag = admitting[i].tag;
    request.slot = slot;
    request.rowBegin = row;
    request.beams = 1;
    request.admitted = now;
    next.push_back(request);
  }
}

int64_t BeamSearch::usedUnder(const int32_t *used, int64_t count,
                              const int32_t *prefix, int64_t level,
                              int32_t code) const {
  int64_t under = 0;
  for (int64_t i = 0; i < count; ++i) {
    const int32_t *codes = catalog_.codes(size_t(used[i]));
    under += std::equal(prefix, prefix + level, codes) && codes[level] == code;
  }
  return under;
}

int64_t BeamSearch::select(const Active &request, int64_t level,
                           const float *logits, int64_t outBegin) {
  const int64_t levels = shape_.levels, codebook = shape_.codebook;
  const int64_t item = request.position / (levels + 1);
  const int64_t codesPerRow = items_ * levels;
  const bool lastLevel = level == levels - 1;
  const std::vector<int32_t> &childCodes = catalog_.childCodes();
  const std::vector<int32_t> &childNodes = catalog_.childNodes();

  size_t count = 0;
  for (int64_t b = 0; b < request.beams; ++b) {
    int64_t row = request.rowBegin + b;
    const float *scores = logits + (row * levels + level) * codebook;
    double base = beams_.score[size_t(row)] - logSumExp(scores, codebook);
    int32_t node = beams_.node[size_t(row)];
    const int32_t *used = beams_.itemRows.data() + row * items_;
    const int32_t *prefix = beams_.codes.data() + row * codesPerRow +
                            item * levels; // this item's codes so far
    for (size_t e = catalog_.childBegin(node), end = catalog_.childEnd(node);
         e < end; ++e) {
      int32_t child = childNodes[e];
      if (item > 0 && usedUnder(used, item, prefix, level, childCodes[e]) ==
                          leaves_[size_t(child)])
        continue; // every item below the code is already in the session

      double score = base + double(scores[childCodes[e]]);
      if (std::isnan(score))
        score = -std::numeric_limits<double>::infinity();
      candidates_[count++] = {score, int32_t(b), childCodes[e], child};
    }
  }

  // The best `width` under a total order: score, then parent, then code.
  auto better = [](const Candidate &a, const Candidate &b) {
    if (a.score != b.score)
      return a.score > b.score;
    if (a.parent != b.parent)
      return a.parent < b.parent;
    return a.code < b.code;
  };
  size_t keep = std::min(count, size_t(options_.width));
  auto first = candidates_.begin(), last = first + ptrdiff_t(count);
  if (keep < count)
    std::nth_element(first, first + ptrdiff_t(keep), last, better);
  std::sort(first, first + ptrdiff_t(keep), better);

  for (size_t j = 0; j < keep; ++j) {
    const Candidate &c = candidates_[j];
    int64_t from = request.rowBegin + c.parent, to = outBegin + int64_t(j);
    std::copy_n(beams_.codes.data() + from * codesPerRow, codesPerRow,
                nextBeams_.codes.data() + to * codesPerRow);
    std::copy_n(beams_.itemRows.data() + from * items_, items_,
                nextBeams_.itemRows.data() + to * items_);
    nextBeams_.codes[size_t(to * codesPerRow + item * levels + level)] = c.code;
    if (lastLevel)
      nextBeams_.itemRows[size_t(to * items_ + item)] =
          int32_t(catalog_.leafRow(c.node));
    nextBeams_.score[size_t(to)] = c.score;
    nextBeams_.node[size_t(to)] = lastLevel ? data::Catalog::kRoot : c.node;
    parents_[size_t(to)] = int32_t(from);
    lengths_[size_t(to)] = request.position + 1;
    tokens_[size_t(to)] = level * codebook + c.code;
    positions_[size_t(to)] = request.position + 1;
    rowSlots_[size_t(to)] = request.slot;
  }
  return int64_t(keep);
}

GenerationResult BeamSearch::finish(const Active &request, int64_t rowBegin,
                                    int64_t beams) const {
  GenerationResult result;
  const int64_t levels = shape_.levels, codesPerRow = items_ * levels;
  int64_t sessions = std::min(beams, options_.top);
  result.sessions.resize(size_t(sessions));
  for (int64_t j = 0; j < sessions; ++j) {
    GeneratedSession &session = result.sessions[size_t(j)];
    int64_t row = rowBegin + j;
    for (int64_t i = 0; i < items_; ++i)
      session.items.push_back(catalog_.itemId(
          size_t(nextBeams_.itemRows[size_t(row * items_ + i)])));
    session.codes.assign(nextBeams_.codes.begin() + row * codesPerRow,
                         nextBeams_.codes.begin() + (row + 1) * codesPerRow);
    session.score = nextBeams_.score[size_t(row)];
  }
  // Beams are best first, so an item's first appearance is its best beam.
  std::unordered_set<int32_t> seen;
  for (int64_t j = 0; j < beams && int64_t(result.items.size()) < options_.top;
       ++j) {
    int64_t row = rowBegin + j;
    for (int64_t i = 0; i < items_; ++i) {
      int32_t itemRow = nextBeams_.itemRows[size_t(row * items_ + i)];
      if (seen.insert(itemRow).second &&
          int64_t(result.items.size()) < options_.top)
        result.items.push_back(
            {catalog_.itemId(size_t(itemRow)), nextBeams_.score[size_t(row)]});
    }
  }
  result.steps = request.steps;
  result.seconds =
      std::chrono::duration<double>(Clock::now() - request.admitted).count();
  return result;
}

StatusOr<bool> BeamSearch::advance(const Callback &done) {
  if (active_.empty() && queue_.empty())
    return false;
  const int64_t levels = shape_.levels;
  nextActive_.clear();
  int64_t nextRows = 0;
  if (!active_.empty()) {
    StatusOr<const float *> logits =
        model_.step(rows_, tokens_.data(), positions_.data(), rowSlots_.data());
    if (!logits)
      return logits.status();
    ++stepsRun_;
    rowsFed_ += rows_;
    for (Active &request : active_) {
      ++request.steps;
      int64_t level = request.position % (levels + 1);
      int64_t item = request.position / (levels + 1);
      Active next = request;
      next.position = request.position + 1;
      next.rowBegin = nextRows;
      if (level == levels) {
        // The fed token was an item's last code, now in the cache; the
        // beams carry over and the next item starts with BOS.
        for (int64_t b = 0; b < request.beams; ++b) {
          int64_t from = request.rowBegin + b, to = nextRows + b;
          nextBeams_.score[size_t(to)] = beams_.score[size_t(from)];
          nextBeams_.node[size_t(to)] = data::Catalog::kRoot;
          int64_t codesPerRow = items_ * levels;
          std::copy_n(beams_.codes.data() + from * codesPerRow, codesPerRow,
                      nextBeams_.codes.data() + to * codesPerRow);
          std::copy_n(beams_.itemRows.data() + from * items_, items_,
                      nextBeams_.itemRows.data() + to * items_);
          parents_[size_t(to)] = int32_t(from);
          lengths_[size_t(to)] = next.position;
          tokens_[size_t(to)] = shape_.bos();
          positions_[size_t(to)] = next.position;
          rowSlots_[size_t(to)] = request.slot;
        }
      } else {
        next.beams = select(request, level, *logits, nextRows);
        if (next.beams == 0) {
          // Only reachable when the catalog cannot extend any beam.
          freeSlots_.push_back(request.slot);
          done(request.tag,
               Status::error(Status::Code::InvalidArgument,
                             "no catalog session extends the beams"));
          continue;
        }
        if (level == levels - 1 && item == items_ - 1) {
          freeSlots_.push_back(request.slot);
          done(request.tag, finish(next, nextRows, next.beams));
          continue;
        }
      }
      nextRows += next.beams;
      nextActive_.push_back(next);
    }
  }
  admit(done, nextActive_, nextRows);
  if (nextRows > 0)
    model_.reorder(nextRows, parents_.data(), lengths_.data());
  std::swap(beams_, nextBeams_);
  active_.swap(nextActive_);
  rows_ = nextRows;
  return true;
}

Status BeamSearch::run(const Callback &done) {
  while (true) {
    StatusOr<bool> progressed = advance(done);
    if (!progressed)
      return progressed.status();
    if (!*progressed)
      return Status::ok();
  }
}

} // namespace onerec::driver
