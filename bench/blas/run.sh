#!/bin/sh
# Runs every built sgemm benchmark with the same thread count and prints one
# JSON array of their results. Usage: bench/blas/run.sh BUILD_DIR [threads] [seconds]
set -eu
build=${1:?usage: run.sh BUILD_DIR [threads] [seconds]}
threads=${2:-2}
seconds=${3:-0.3}
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
echo "["
sep=""
for backend in onerec blis dnnl; do
  exe="$build/bin/onerec-bench-blas-$backend"
  [ -x "$exe" ] || continue
  printf '%s' "$sep"
  "$exe" "$threads" "$seconds"
  sep=","
done
echo "]"
