//===- BeamSearch.h - catalog-constrained beam search, batched --*- C++ -*-===//
//
// Generation for semantic-ID models (docs/generation.md). A decoder writes a
// session of `items` items, each spelled by `levels` codes below `codebook`;
// the tokens of a session are [BOS, c1 .. cL] per item. BeamSearch drives a
// StepModel (the decoder fed one token per beam row, with a KV cache per
// row) and keeps, per request, the `width` best partial sessions:
//
//   - a beam's score is the sum over its codes of log-softmax(logits of
//     that level)[code], the softmax taken over all `codebook` codes of
//     the level (the model's distribution), and only then restricted to
//     the codes the catalog trie allows after the beam's prefix. Scores are
//     therefore true log-probabilities of the model, comparable across
//     requests and widths;
//   - every generated item is a catalog item (the prefix walks the trie),
//     and a session holds no item twice: a code is not a candidate when
//     every catalog item below it (in the trie) is already in the beam's
//     session, so no beam runs into a dead end where all its completions
//     repeat an item;
//   - the best `width` candidates of a request are chosen by partial sort
//     over the allowed candidates only, under a total order (score, then
//     parent beam, then code), so results are deterministic.
//
// Dynamic batching: requests wait in a queue; whenever `width` beam rows
// and a request slot are free, the next requests are admitted (their
// encoder runs batched), and every step feeds the rows of all active
// requests together, each at its own position. A request finishes on its
// own step and is answered at once; rows hold only their own request's
// state, so a result does not depend on which requests share a step.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_BEAMSEARCH_H
#define ONEREC_DRIVER_BEAMSEARCH_H

#include "onerec/Data/Catalog.h"
#include "onerec/Runtime/Status.h"
#include "onerec/Runtime/TensorIO.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

namespace onerec::driver {

/// What a decoder writes (a plan's Generate section).
struct DecodeShape {
  /// Items per session the decoder's positions cover.
  int64_t items = 1;
  int64_t levels = 0;
  int64_t codebook = 0;
  /// Tokens of a whole session: items * (levels + 1).
  int64_t length() const { return items * (levels + 1); }
  /// The token that starts every item.
  int64_t bos() const { return levels * codebook; }
};

/// One request: the encoder's inputs, named like them, each with a leading
/// batch extent of 1.
struct GenerationRequest {
  std::vector<runtime::NamedTensor> inputs;
};

/// The decoder, one token per beam row at a time. Rows are numbered
/// 0..n-1 in every step; each owns a KV cache (what the model keeps of the
/// tokens it was fed), and reads the context of the request slot it
/// belongs to. Implementations: PlanStepModel (a plan's encoder, init and
/// step entries) and the mocks of the tests.
class StepModel {
public:
  virtual ~StepModel();

  virtual const DecodeShape &shape() const = 0;
  /// The most rows one step takes.
  virtual int64_t maxRows() const = 0;
  /// The most request slots (contexts) the model can hold at once.
  virtual int64_t maxSlots() const = 0;
  /// Prepares caches for `rows` rows and contexts for `slots` slots;
  /// called once, before any other call.
  virtual runtime::Status reserve(int64_t rows, int64_t slots) = 0;
  /// Encodes `requests[i]` into slot `slots[i]`, for i < count (count >= 1).
  /// An error leaves the other slots as they were.
  virtual runtime::Status encode(const GenerationRequest *const *requests,
                                 const int64_t *slots, size_t count) = 0;
  /// Feeds token `tokens[r]` at position `positions[r]` to row r (< n),
  /// which belongs to slot `slots[r]`; row r's cache holds its tokens at
  /// positions below positions[r], and this step adds the fed one. Returns
  /// the logits [n, levels, codebook] (row-major), valid until the next
  /// call.
  virtual runtime::StatusOr<const float *> step(int64_t n,
                                                const int64_t *tokens,
                                                const int64_t *positions,
                                                const int64_t *slots) = 0;
  /// Rearranges the caches for the next step: new row i continues old row
  /// `parents[i]`, whose cache positions [0, lengths[i]) it takes; a parent
  /// of -1 starts an empty row (a newly admitted request).
  virtual void reorder(int64_t n, const int32_t *parents,
                       const int64_t *lengths) = 0;
};

struct BeamSearchOptions {
  /// Beams kept per request.
  int64_t width = 20;
  /// Items per session; 0 = the model's `items`.
  int64_t items = 0;
  /// Sessions (and items) answered per request.
  int64_t top = 10;
  /// Beam rows one step feeds, over all active requests; 0 = the model's
  /// maximum, at most max(width, 1024). At least `width`.
  int64_t maxRows = 0;
};

struct GeneratedSession {
  /// Dataset item ids, in generation order.
  std::vector<int64_t> items;
  /// The codes, [items.size()][levels] row-major.
  std::vector<int32_t> codes;
  /// Sum of the log-probabilities of the codes.
  double score = 0;
};

struct GeneratedItem {
  int64_t item = 0;
  /// The score of the best final beam that holds the item.
  double score = 0;
};

struct GenerationResult {
  /// The best sessions, best first (at most `top`).
  std::vector<GeneratedSession> sessions;
  /// Distinct items of the final beams, best first (at most `top`); for
  /// sessions of one item, the ranked list of retrieved items.
  std::vector<GeneratedItem> items;
  /// Decoding steps the request took part in, and seconds from admission
  /// to answer.
  int64_t steps = 0;
  double seconds = 0;
};

class BeamSearch {
public:
  /// Called once per request with its tag and result (or its error).
  using Callback = std::function<void(
      uint64_t tag, runtime::StatusOr<GenerationResult> result)>;

  /// Checks the options against the model and the catalog (levels and
  /// codebook must match; a session of `items` distinct items must exist)
  /// and reserves the model's buffers.
  static runtime::StatusOr<std::unique_ptr<BeamSearch>>
  create(StepModel &model, const data::Catalog &catalog,
         const BeamSearchOptions &options);

  /// Queues a request.
  void submit(uint64_t tag, GenerationRequest request);
  /// One round: admits what fits, runs one step, answers the requests that
  /// finished. False when there was nothing to do (queue and rows empty).
  /// An error is fatal (the model failed a step).
  runtime::StatusOr<bool> advance(const Callback &done);
  /// Advances until every submitted request is answered.
  runtime::Status run(const Callback &done);

  size_t queued() const { return queue_.size(); }
  size_t activeRequests() const { return active_.size(); }
  /// The most requests active at once (slots).
  int64_t slots() const { return slots_; }
  int64_t maxRows() const { return maxRows_; }
  const BeamSearchOptions &options() const { return options_; }
  /// Steps run and rows fed so far.
  int64_t stepsRun() const { return stepsRun_; }
  int64_t rowsFed() const { return rowsFed_; }

private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    uint64_t tag;
    GenerationRequest request;
  };
  struct Active {
    uint64_t tag = 0;
    int64_t slot = 0;
    /// Position of the token each beam is fed next.
    int64_t position = 0;
    /// Its beams are rows [rowBegin, rowBegin + beams).
    int64_t rowBegin = 0;
    int64_t beams = 0;
    int64_t steps = 0;
    Clock::time_point admitted;
  };
  /// Per-row state; two of them, swapped after every selection.
  struct Beams {
    std::vector<double> score;
    std::vector<int32_t> node;
    /// [rows][items * levels] chosen codes.
    std::vector<int32_t> codes;
    /// [rows][items] catalog rows of the completed items.
    std::vector<int32_t> itemRows;
    void resize(int64_t rows, int64_t codesPerRow, int64_t itemsPerRow);
  };
  struct Candidate {
    double score;
    int32_t parent; // beam index within the request
    int32_t code;
    int32_t node; // the trie node the code leads to
  };

  BeamSearch(StepModel &model, const data::Catalog &catalog,
             BeamSearchOptions options)
      : model_(model), catalog_(catalog), options_(options) {}

  /// Moves queued requests into free slots and rows, encoding them.
  void admit(const Callback &done, std::vector<Active> &next,
             int64_t &nextRows);
  /// Chooses the next beams of `request` from the logits of its rows into
  /// rows [outBegin, ...) of the next layout; returns how many.
  int64_t select(const Active &request, int64_t level, const float *logits,
                 int64_t outBegin);
  /// How many of the `count` catalog rows `used` start with `prefix`
  /// (`level` codes) followed by `code`.
  int64_t usedUnder(const int32_t *used, int64_t count, const int32_t *prefix,
                    int64_t level, int32_t code) const;
  GenerationResult finish(const Active &request, int64_t rowBegin,
                          int64_t beams) const;

  StepModel &model_;
  const data::Catalog &catalog_;
  BeamSearchOptions options_;
  DecodeShape shape_;
  int64_t items_ = 0;
  int64_t maxRows_ = 0;
  int64_t slots_ = 0;

  std::deque<Pending> queue_;
  std::vector<Active> active_;
  std::vector<int64_t> freeSlots_;
  int64_t rows_ = 0; // rows of the current layout

  Beams beams_, nextBeams_;
  std::vector<int64_t> tokens_, positions_, rowSlots_, lengths_;
  std::vector<int32_t> parents_;
  std::vector<Candidate> candidates_;
  /// Catalog items below each trie node.
  std::vector<int64_t> leaves_;
  std::vector<Active> nextActive_;
  std::vector<const GenerationRequest *> admitted_;
  std::vector<int64_t> admittedSlots_;
  int64_t stepsRun_ = 0, rowsFed_ = 0;
};

} // namespace onerec::driver

#endif // ONEREC_DRIVER_BEAMSEARCH_H
