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

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

using Bytes = std::vector<uint8_t>;

/// What is running now, printed if it crashes (signal handlers may only
/// write preformatted bytes).
char currentInput[1024];

void onCrash(int signal) {
  const char prefix[] = "\nonerec-plan-fuzz-driver: crash on ";
  (void)!write(2, prefix, sizeof(prefix) - 1);
  (void)!write(2, currentInput, strnlen(currentInput, sizeof(currentInput)));
  (void)!write(2, "\n", 1);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

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

/// Runs one input; true when the target accepted it (returned 0).
bool run(const Bytes &input, const std::string &origin) {
  std::snprintf(currentInput, sizeof(currentInput), "%s", origin.c_str());
  return LLVMFuzzerTestOneInput(input.data(), input.size()) == 0;
}

} // namespace

int main(int argc, char **argv) {
  unsigned mutations = 0;
  uint64_t seed = 1;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--mutations" && i + 1 < argc) {
      mutations = static_cast<unsigned>(std::stoul(argv[++i]));
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = std::stoull(argv[++i]);
    } else if (std::filesystem::is_directory(arg)) {
      for (const auto &entry :
           std::filesystem::recursive_directory_iterator(arg))
        if (entry.is_regular_file())
          files.push_back(entry.path());
    } else if (std::filesystem::is_regular_file(arg)) {
      files.push_back(arg);
    } else {
      std::fprintf(stderr,
                   "onerec-plan-fuzz-driver: no file or directory '%s'\n",
                   arg.c_str());
      return 1;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "onerec-plan-fuzz-driver: no input files\n");
    return 1;
  }
  std::sort(files.begin(), files.end());
  for (int signal : {SIGSEGV, SIGABRT, SIGFPE, SIGBUS, SIGILL})
    std::signal(signal, onCrash);

  std::vector<Bytes> contents;
  for (const auto &file : files) {
    std::ifstream in(file, std::ios::binary);
    contents.emplace_back(std::istreambuf_iterator<char>(in),
                          std::istreambuf_iterator<char>());
  }
  std::mt19937_64 rng(seed);
  size_t runs = 0, accepted = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    accepted += run(contents[i], files[i].string());
    ++runs;
    for (unsigned m = 0; m < mutations; ++m) {
      const Bytes &other = contents[rng() % contents.size()];
      accepted += run(mutate(contents[i], other, rng),
                      files[i].string() + " mutation " + std::to_string(m) +
                          " (--seed " + std::to_string(seed) + ")");
      ++runs;
    }
  }
  std::printf("onerec-plan-fuzz-driver: %zu inputs from %zu files (%zu "
              "accepted), no crash\n",
              runs, files.size(), accepted);
  return 0;
}
