//===- SyntheticGenerator.h - sequences with a known best accuracy -*- C++
//-*-===//
//
// Sequences drawn from a sparse first-order Markov chain over items 1..N:
// every item has `branching` distinct successors; the next item is the
// dominant successor with probability `dominant`, else one of the others
// uniformly. Because the chain is first order, the Bayes-optimal next-item
// ranking given the whole history is the successor distribution of the last
// item, so the best achievable HR@K / NDCG@K of full ranking on the
// leave-one-out test targets is known exactly; a trained model can be checked
// against it.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DATA_SYNTHETICGENERATOR_H
#define ONEREC_DATA_SYNTHETICGENERATOR_H

#include "onerec/Data/DatasetWriter.h"

#include <cstdint>
#include <string>

namespace onerec::data {

struct SyntheticOptions {
  uint64_t users = 2000;
  uint64_t items = 300;
  uint32_t lenMin = 10;
  uint32_t lenMax = 30;
  uint32_t branching = 4;
  double dominant = 0.8;
  uint64_t seed = 1;
};

struct SyntheticAccuracy {
  /// Expected values of the Bayes-optimal predictor (full ranking, no
  /// history masking) on one test target.
  double hr1 = 0, hr10 = 0, ndcg10 = 0;
  /// The same predictor's hit rates on the generated test targets.
  double empiricalHr1 = 0, empiricalHr10 = 0;
  uint64_t testTargets = 0;
};

struct SyntheticDataset {
  DatasetContents contents; // leave-one-out split applied
  SyntheticAccuracy accuracy;
};

/// Generates the dataset (deterministic in the options).
StatusOr<SyntheticDataset> generateSynthetic(const SyntheticOptions &options);

/// The sequence-file text (`user item item ...` per line) of `contents`.
std::string sequenceFileText(const DatasetContents &contents);

} // namespace onerec::data

#endif // ONEREC_DATA_SYNTHETICGENERATOR_H
