//===- PlanCorpusGen.cpp - write the test plans as fuzz seeds -------------===//
//
// onerec-plan-corpus-gen OUTDIR
//
// Writes every plan of test/unit/TestPlans.h to OUTDIR/<name>.fb. CTest runs
// it before the plan fuzz driver, so the seeds always match the current
// schema; test/fuzz/plan-corpus/ holds a committed copy plus plans from
// onerecc.
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: onerec-plan-corpus-gen OUTDIR\n");
    return 2;
  }
  std::filesystem::path dir = argv[1];
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    std::fprintf(stderr, "onerec-plan-corpus-gen: error: %s: %s\n", dir.c_str(),
                 error.message().c_str());
    return 1;
  }
  for (const auto &[name, spec] : onerec::test::allTestPlans()) {
    std::vector<uint8_t> bytes = spec.build();
    std::filesystem::path path = dir / (name + ".fb");
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "onerec-plan-corpus-gen: error: cannot write %s\n",
                   path.c_str());
      return 1;
    }
  }
  return 0;
}
