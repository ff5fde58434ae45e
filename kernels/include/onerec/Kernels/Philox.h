//===- Philox.h - the Philox4x32-10 counter-based generator ---------------===//
//
// Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11). A
// counter-based generator is a keyed bijection: the random bits for element
// i of step s are a pure function of (key, s, i), so every thread, the CPU
// and the GPU draw the same dropout mask without sharing state, and a resumed
// run continues bit-identically. Dropout uses key = seed ^ stream and counter
// = (element / 4, step): each block of four elements takes one output word
// each.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_KERNELS_PHILOX_H
#define ONEREC_KERNELS_PHILOX_H

#include "onerec/Kernels/Shapes.h"

#include <cstdint>

namespace onerec::kernels {

struct Philox4x32 {
  uint32_t v[4];
};

/// Philox4x32 with 10 rounds on a 128-bit counter and a 64-bit key.
ONEREC_HD inline Philox4x32 philox4x32_10(Philox4x32 ctr, uint64_t key64) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  uint32_t k0 = uint32_t(key64), k1 = uint32_t(key64 >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(kMul0) * ctr.v[0];
    uint64_t p1 = uint64_t(kMul1) * ctr.v[2];
    uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    ctr = {{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return ctr;
}

/// The four words for block `block` (elements 4·block .. 4·block+3) of
/// `step` under `key`.
ONEREC_HD inline Philox4x32 philoxBlock(uint64_t key, uint64_t step,
                                        uint64_t block) {
  Philox4x32 ctr = {{uint32_t(block), uint32_t(block >> 32), uint32_t(step),
                     uint32_t(step >> 32)}};
  return philox4x32_10(ctr, key);
}

/// A uniform float in [0, 1) from the top 24 bits of a word.
ONEREC_HD inline float uniformFromBits(uint32_t bits) {
  return float(bits >> 8) * (1.0f / 16777216.0f);
}

/// The uniform draw of element `index` (the reference way: one block per
/// element; kernels compute each block once for four elements).
ONEREC_HD inline float philoxUniform(uint64_t key, uint64_t step,
                                     uint64_t index) {
  return uniformFromBits(philoxBlock(key, step, index / 4).v[index % 4]);
}

} // namespace onerec::kernels

#endif // ONEREC_KERNELS_PHILOX_H
