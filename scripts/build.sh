#!/usr/bin/env bash
# Configures (once) and builds onerec in build/ with Debian's LLVM/MLIR 19.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${ONEREC_JOBS:-2}
if [[ ! -f build/build.ninja ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-19/build/utils/lit/lit.py \
    "$@"
fi
cmake --build build -j "$jobs"
