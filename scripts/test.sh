#!/usr/bin/env bash
# Builds onerec and runs every test: lit (frontend, dialect, passes, tools,
# models), GoogleTest (compiler and runtime), and the parser fuzz corpus.
# One CTest run, one pass/fail total.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir build -j "${ONEREC_JOBS:-2}" --output-on-failure
