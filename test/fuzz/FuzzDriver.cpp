//===- FuzzDriver.cpp - run the fuzz target over files and mutations ------===//
//
// onerec-fuzz-driver [--mutations N] [--seed S] PATH...
//
// Runs LLVMFuzzerTestOneInput on every file under the given paths, and on N
// deterministic mutations of each (byte flips, deletions, duplications,
// splices with other files, insertions of language tokens). A crash names the
// input that caused it. Without a coverage-guided fuzzer this is how the
// corpus and the models stay crash-free in every CTest run.

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

/// What is running now, printed if it crashes (signal handlers may only
/// write preformatted bytes).
char currentInput[1024];

void onCrash(int signal) {
  const char prefix[] = "\nonerec-fuzz-driver: crash on ";
  (void)!write(2, prefix, sizeof(prefix) - 1);
  (void)!write(2, currentInput, strnlen(currentInput, sizeof(currentInput)));
  (void)!write(2, "\n", 1);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

const char *const kTokens[] = {"model",
                               "const",
                               "dim",
                               "input",
                               "target",
                               "param",
                               "block",
                               "def",
                               "loss",
                               "reward",
                               "generate",
                               "train",
                               "repeat",
                               "if",
                               "else",
                               "for",
                               "in",
                               "return",
                               "import",
                               "(",
                               ")",
                               "[",
                               "]",
                               "{",
                               "}",
                               "<",
                               ">",
                               ",",
                               ":",
                               "=",
                               "+",
                               "*",
                               "**",
                               "-1",
                               "0",
                               "1e999",
                               "99999999999999999999",
                               "f32",
                               "id<",
                               "sid<",
                               "B",
                               "\n",
                               "//",
                               "/*",
                               "\"",
                               "attn(",
                               "repeat 4096",
                               "moe(",
                               "embed(",
                               "session_tokens(",
                               "beam(",
                               "minimize",
                               "stage"};

std::string mutate(const std::string &input, const std::string &other,
                   std::mt19937_64 &rng) {
  std::string out = input;
  int edits = 1 + rng() % 4;
  for (int e = 0; e < edits; ++e) {
    size_t pos = out.empty() ? 0 : rng() % out.size();
    switch (rng() % 6) {
    case 0: // flip a byte
      if (!out.empty())
        out[pos] = static_cast<char>(rng());
      break;
    case 1: // delete a range
      if (!out.empty())
        out.erase(pos, 1 + rng() % 16);
      break;
    case 2: { // insert a token of the language
      const char *token = kTokens[rng() % std::size(kTokens)];
      out.insert(pos, std::string(" ") + token + " ");
      break;
    }
    case 3: // duplicate a range
      if (!out.empty())
        out.insert(pos, out.substr(rng() % out.size(), 1 + rng() % 64));
      break;
    case 4: // splice a range of another input
      if (!other.empty())
        out.insert(pos, other.substr(rng() % other.size(), 1 + rng() % 128));
      break;
    case 5: // truncate
      out.resize(pos);
      break;
    }
  }
  return out;
}

void run(const std::string &input, const std::string &origin) {
  std::snprintf(currentInput, sizeof(currentInput), "%s", origin.c_str());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(input.data()),
                         input.size());
}

} // namespace

int main(int argc, char **argv) {
  unsigned mutations = 0;
  uint64_t seed = 1;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--mutations" && i + 1 < argc) {
      mutations = std::stoul(argv[++i]);
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
      std::fprintf(stderr, "onerec-fuzz-driver: no file or directory '%s'\n",
                   arg.c_str());
      return 1;
    }
  }
  std::sort(files.begin(), files.end());
  std::signal(SIGSEGV, onCrash);
  std::signal(SIGABRT, onCrash);
  std::signal(SIGFPE, onCrash);
  std::signal(SIGBUS, onCrash);
  std::signal(SIGILL, onCrash);

  std::vector<std::string> contents;
  for (const auto &file : files) {
    std::ifstream in(file, std::ios::binary);
    contents.emplace_back(std::istreambuf_iterator<char>(in),
                          std::istreambuf_iterator<char>());
  }
  std::mt19937_64 rng(seed);
  size_t runs = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    run(contents[i], files[i].string());
    ++runs;
    for (unsigned m = 0; m < mutations; ++m) {
      const std::string &other = contents[rng() % contents.size()];
      std::string mutated = mutate(contents[i], other, rng);
      run(mutated, files[i].string() + " mutation " + std::to_string(m) +
                       " (--seed " + std::to_string(seed) + ")");
      ++runs;
    }
  }
  std::printf("onerec-fuzz-driver: %zu inputs from %zu files, no crash\n", runs,
              files.size());
  return 0;
}
