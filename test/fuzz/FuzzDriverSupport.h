//===- FuzzDriverSupport.h - the shared standalone fuzz driver --*- C++ -*-===//
//
// `DRIVER [--mutations N] [--seed S] PATH...`: runs LLVMFuzzerTestOneInput
// on every file under the paths and on N deterministic mutations of each,
// naming the input if one crashes. Without a coverage-guided fuzzer this is
// how the corpora stay crash-free in every CTest run. Each driver brings its
// own mutator (text edits for .rdsl, binary edits for plans).
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_TEST_FUZZ_FUZZDRIVERSUPPORT_H
#define ONEREC_TEST_FUZZ_FUZZDRIVERSUPPORT_H

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

namespace onerec::fuzz {

/// What is running now, printed if it crashes (signal handlers may only
/// write preformatted bytes).
inline char currentInput[1024];
inline char crashPrefix[128];

inline void onCrash(int signal) {
  (void)!write(2, crashPrefix, strnlen(crashPrefix, sizeof(crashPrefix)));
  (void)!write(2, currentInput, strnlen(currentInput, sizeof(currentInput)));
  (void)!write(2, "\n", 1);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

/// Runs the driver; `mutate(input, other, rng)` returns a mutation of
/// `input` (`other` is another corpus file, for splices). `Input` is a byte
/// container (std::string or std::vector<uint8_t>).
template <typename Input, typename Mutate>
int runFuzzDriver(int argc, char **argv, const char *tool, Mutate mutate) {
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
      std::fprintf(stderr, "%s: no file or directory '%s'\n", tool,
                   arg.c_str());
      return 1;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "%s: no input files\n", tool);
    return 1;
  }
  std::sort(files.begin(), files.end());
  std::snprintf(crashPrefix, sizeof(crashPrefix), "\n%s: crash on ", tool);
  for (int signal : {SIGSEGV, SIGABRT, SIGFPE, SIGBUS, SIGILL})
    std::signal(signal, onCrash);

  std::vector<Input> contents;
  for (const auto &file : files) {
    std::ifstream in(file, std::ios::binary);
    contents.emplace_back(std::istreambuf_iterator<char>(in),
                          std::istreambuf_iterator<char>());
  }
  auto run = [](const Input &input, const std::string &origin) {
    std::snprintf(currentInput, sizeof(currentInput), "%s", origin.c_str());
    return LLVMFuzzerTestOneInput(
               reinterpret_cast<const uint8_t *>(input.data()), input.size()) ==
           0;
  };
  std::mt19937_64 rng(seed);
  size_t runs = 0, accepted = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    accepted += run(contents[i], files[i].string());
    ++runs;
    for (unsigned m = 0; m < mutations; ++m) {
      const Input &other = contents[rng() % contents.size()];
      accepted += run(mutate(contents[i], other, rng),
                      files[i].string() + " mutation " + std::to_string(m) +
                          " (--seed " + std::to_string(seed) + ")");
      ++runs;
    }
  }
  std::printf("%s: %zu inputs from %zu files (%zu accepted), no crash\n", tool,
              runs, files.size(), accepted);
  return 0;
}

} // namespace onerec::fuzz

#endif // ONEREC_TEST_FUZZ_FUZZDRIVERSUPPORT_H
