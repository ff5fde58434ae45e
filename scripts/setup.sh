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
# configuration) to a plan, describe it, and run its encoder and decoder and
# the next-token loss on a batch; then the same for SASRec's forward pass.
# (Training and beam-search generation arrive with their issues.)
echo "== devices"
build/bin/onerec-run devices
echo "== compiling models/onerec.rdsl --config tiny -> build/onerec-tiny.fb"
build/bin/onerecc models/onerec.rdsl --config tiny -o build/onerec-tiny.fb 2>/dev/null
build/bin/onerec-run inspect build/onerec-tiny.fb
echo "== running every entry of the plan on a random batch of 4"
/usr/bin/python3 test/Models/Inputs/run_entries.py build/bin/onerec-run \
  build/onerec-tiny.fb build/onerec-tiny-run --batch 4
echo "== SASRec: compile, then score the catalog for 4 users"
build/bin/onerecc models/sasrec.rdsl -o build/sasrec.fb
build/bin/onerec-run inspect build/sasrec.fb --json > build/sasrec-plan.json
/usr/bin/python3 test/Models/Inputs/random_inputs.py build/sasrec-plan.json forward \
  build/sasrec-request.json --batch 4
build/bin/onerec-run forward build/sasrec.fb --input build/sasrec-request.json \
  --output build/sasrec-scores.safetensors --profile
echo "== done: plans in build/*.fb, scores in build/sasrec-scores.safetensors"
