#!/usr/bin/env bash
# Set-up on a fresh Debian 12 machine (run as root): install what is missing,
# build onerec, and run the main job on the bundled default model.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian 12 packages the project needs (docs/dependencies.md says why).
packages=(
  cmake ninja-build g++ ccache git
  llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools
  libflatbuffers-dev flatbuffers-compiler
  libfmt-dev libspdlog-dev libgtest-dev libopenblas-dev nlohmann-json3-dev
  python3 python3-numpy python3-torch python3-matplotlib
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: installing packages needs root (run as root or with sudo)" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

scripts/build.sh

# The main job on the bundled default: compile OneRec (the tiny reference
# configuration), check the IR, and show what the model holds and where it
# can run.
echo "== devices"
build/bin/onerec-run devices
echo "== compiling models/onerec.rdsl --config tiny"
build/bin/onerecc models/onerec.rdsl --config tiny -o build/onerec-tiny.mlir
build/bin/onerec-opt build/onerec-tiny.mlir --rec-infer-shapes -o /dev/null
build/bin/onerecc models/onerec.rdsl --config tiny --emit=summary
echo "== IR written to build/onerec-tiny.mlir ($(grep -c ' = rec\.' build/onerec-tiny.mlir) rec ops)"
