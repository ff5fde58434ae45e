//===- GenerativeEval.h - Recall@K / NDCG@K of beam search ------*- C++ -*-===//
//
// The TIGER protocol (Rajput et al. 2023) for generative retrieval: every
// user of a dataset split with a held-out item is a request whose history is
// everything before that item (the train part for valid; train and valid
// for test), beam search over the catalog retrieves a ranked list of items,
// and the held-out item's rank gives Recall@K (a hit in the top K) and
// NDCG@K (1 / log2(rank + 2)), averaged over users. All items compete; none
// is masked (a generated list may contain history items).
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_GENERATIVEEVAL_H
#define ONEREC_DRIVER_GENERATIVEEVAL_H

#include "onerec/Data/Catalog.h"
#include "onerec/Data/Dataset.h"
#include "onerec/Runtime/PlanFile.h"
#include "onerec/Runtime/Weights.h"

#include <map>

namespace onerec::driver {

struct GenerativeEvalOptions {
  /// Beam width; 0 = the plan's generate section's.
  int64_t width = 0;
  std::vector<int> ks = {5, 10};
  unsigned threads = 0;
  /// Beam rows per step (dynamic batching); 0 = the default.
  int64_t maxRows = 0;
  /// Evaluate only the first `users` users with a held-out item (0 = all).
  int64_t users = 0;
  /// Progress lines on stderr.
  bool progress = true;
};

struct GenerativeEvalResult {
  data::Split split = data::Split::Test;
  int64_t width = 0;
  int64_t users = 0;
  std::map<int, double> recall, ndcg;
  double seconds = 0;
};

runtime::StatusOr<GenerativeEvalResult>
evaluateGenerative(const runtime::PlanFile &plan,
                   runtime::ParameterStore &params,
                   const data::Dataset &dataset, const data::Catalog &catalog,
                   data::Split split, const GenerativeEvalOptions &options);

} // namespace onerec::driver

#endif // ONEREC_DRIVER_GENERATIVEEVAL_H
