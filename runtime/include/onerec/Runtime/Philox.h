//===- Philox.h - the counter-based random number generator ---------------===//
//
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC 2011): a keyed bijection of a 128-bit counter, so element i of a
// stream is computed directly from (key, i) with no state. Weight
// initialization (compiler), dropout masks (kernels) and data shuffling use
// it, which makes every random draw reproducible per element, independent of
// threading and order. Header-only and dependency-free: both halves include it.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_PHILOX_H
#define ONEREC_RUNTIME_PHILOX_H

#include <array>
#include <cmath>
#include <cstdint>

namespace onerec::philox {

using Block = std::array<uint32_t, 4>;

/// Philox4x32-10 of `counter` under the 64-bit `key`.
inline Block philox4x32(Block counter, uint64_t key) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(kMul0) * counter[0];
    uint64_t p1 = static_cast<uint64_t>(kMul1) * counter[2];
    counter = {static_cast<uint32_t>(p1 >> 32) ^ counter[1] ^ k0, static_cast<uint32_t>(p1),
               static_cast<uint32_t>(p0 >> 32) ^ counter[3] ^ k1, static_cast<uint32_t>(p0)};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return counter;
}

/// Four 32-bit words for element `index` of stream `key` at position `step`.
inline Block draw(uint64_t key, uint64_t step, uint64_t index) {
  return philox4x32({static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                     static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32)},
                    key);
}

/// A uniform float in [0, 1) from 24 random bits.
inline float toUnitFloat(uint32_t bits) { return (bits >> 8) * (1.0f / 16777216.0f); }
/// A uniform double in (0, 1] from 53 random bits (never 0: safe for log).
inline double toUnitDoubleOpen(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return (static_cast<double>(bits & ((1ull << 53) - 1)) + 1.0) * (1.0 / 9007199254740992.0);
}

/// A standard normal draw for element `index` of stream `key` (Box-Muller on
/// one Philox block).
inline double normal(uint64_t key, uint64_t step, uint64_t index) {
  Block b = draw(key, step, index);
  double u1 = toUnitDoubleOpen(b[0], b[1]);
  double u2 = toUnitDoubleOpen(b[2], b[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

/// A uniform double in [0, 1) for element `index`.
inline double uniform(uint64_t key, uint64_t step, uint64_t index) {
  Block b = draw(key, step, index);
  return toUnitDoubleOpen(b[0], b[1]) - 1.0 / 9007199254740992.0;
}

} // namespace onerec::philox

#endif // ONEREC_RUNTIME_PHILOX_H
