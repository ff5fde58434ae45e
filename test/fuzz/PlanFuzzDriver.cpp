//===- PlanFuzzDriver.cpp - run the plan fuzz target over binary mutations ===//
//
// onerec-plan-fuzz-driver [--mutations N] [--seed S] PATH...
//
// Runs LLVMFuzzerTestOneInput (PlanFuzzer.cpp) on every file under the given
// paths and on N deterministic binary mutations of each: bit flips,
// truncations, splices of another file's bytes, integer fields overwritten
// with boundary values, zeroed and duplicated ranges. Plans are binary and
// mostly offsets, so these reach the verifier and the validator far more
// often than text-style edits would. A crash names the file and mutation.
//
//===----------------------------------------------------------------------===//

#include "FuzzDriverSupport.h"

#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;

/// Values that break size and index arithmetic.
constexpr uint64_t kBoundaryValues[] = {
    0,          1,          2,          0x7f,       0x80,       0xff,
    0x7fff,     0xffff,     0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe,
    1ull << 40, 1ull << 62, ~0ull >> 1, ~0ull};

Bytes mutate(const Bytes &input, const Bytes &other, std::mt19937_64 &rng) {
  Bytes out = input;
  int edits = 1 + static_cast<int>(rng() % 3);
  for (int e = 0; e < edits && !out.empty(); ++e) {
    size_t pos = rng() % out.size();
    switch (rng() % 6) {
    case 0: // flip one to eight bits
      for (int b = 1 + static_cast<int>(rng() % 8); b > 0; --b)
        out[rng() % out.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    case 1: // truncate
      out.resize(pos);
      break;
    case 2: { // splice: overwrite a range with another input's bytes
      if (other.empty())
        break;
      size_t from = rng() % other.size();
      size_t n = std::min<size_t>(
          {1 + rng() % 64, other.size() - from, out.size() - pos});
      std::copy_n(other.begin() + static_cast<long>(from), n,
                  out.begin() + static_cast<long>(pos));
      break;
    }
    case 3: { // a 1-, 2-, 4- or 8-byte little-endian field set to a boundary
              // value
      uint64_t value = kBoundaryValues[rng() % std::size(kBoundaryValues)];
      size_t width = size_t(1) << (rng() % 4);
      for (size_t b = 0; b < width && pos + b < out.size(); ++b)
        out[pos + b] = static_cast<uint8_t>(value >> (8 * b));
      break;
    }
    case 4: { // zero a range
      size_t n = std::min<size_t>(1 + rng() % 32, out.size() - pos);
      std::fill_n(out.begin() + static_cast<long>(pos), n, 0);
      break;
    }
    case 5: { // duplicate a range (shifts every later offset)
      size_t from = rng() % out.size();
      size_t n = std::min<size_t>(1 + rng() % 32, out.size() - from);
      Bytes range(out.begin() + static_cast<long>(from),
                  out.begin() + static_cast<long>(from + n));
      out.insert(out.begin() + static_cast<long>(pos), range.begin(),
                 range.end());
      break;
    }
    }
  }
  return out;
}

} // namespace

int main(int argc, char **argv) {
  return onerec::fuzz::runFuzzDriver<Bytes>(argc, argv,
                                            "onerec-plan-fuzz-driver", mutate);
}
