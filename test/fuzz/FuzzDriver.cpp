//===- FuzzDriver.cpp - run the fuzz target over files and mutations ------===//
//
// onerec-fuzz-driver [--mutations N] [--seed S] PATH...
//
// Runs LLVMFuzzerTestOneInput on every file under the given paths, and on N
// deterministic mutations of each (byte flips, deletions, duplications,
// splices with other files, insertions of language tokens). A crash names the
// input that caused it. Without a coverage-guided fuzzer this is how the
// corpus and the models stay crash-free in every CTest run.

#include "FuzzDriverSupport.h"

#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace {

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

} // namespace

int main(int argc, char **argv) {
  return onerec::fuzz::runFuzzDriver<std::string>(argc, argv,
                                                  "onerec-fuzz-driver", mutate);
}
