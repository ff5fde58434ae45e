//===- Random.h - counter-based random numbers for the data pipeline -*- C++
//-*-===//
//
// Every random choice of the data pipeline (shuffles, negatives, synthetic
// data) comes from a SplitMix64 stream whose state is derived from explicit
// keys (seed, epoch, row, purpose), never from std::random_device or a
// standard distribution (their results differ between standard libraries).
// The same keys give the same numbers on every machine, which is what makes
// resuming a run at a saved position bit-identical.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DATA_RANDOM_H
#define ONEREC_DATA_RANDOM_H

#include <cstdint>

namespace onerec::data {

/// The SplitMix64 finalizer: a bijective 64-bit mix.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// A SplitMix64 stream keyed by up to four values.
class KeyedRandom {
public:
  explicit KeyedRandom(uint64_t k0, uint64_t k1 = 0, uint64_t k2 = 0,
                       uint64_t k3 = 0)
      : state_(mix64(mix64(mix64(mix64(k0) ^ k1) ^ k2) ^ k3)) {}

  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, bound) by rejection (no modulo bias); bound > 0.
  uint64_t below(uint64_t bound) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do
      x = next();
    while (x >= limit);
    return x % bound;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
  uint64_t state_;
};

/// Purposes, so streams for different uses never coincide.
enum class RandomPurpose : uint64_t {
  Shuffle = 1,
  TrainNegatives = 2,
  EvalCandidates = 3,
  Synthetic = 4,
  /// Negatives shared by a whole batch (the trainer's `neg : i64[N]`).
  SharedNegatives = 5,
  /// The positions a cloze (BERT4Rec) batch masks.
  ClozeMask = 6,
};

} // namespace onerec::data

#endif // ONEREC_DATA_RANDOM_H
