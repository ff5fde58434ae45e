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
# configuration) to a plan, describe it, and run every entry (encoder,
# decoder, losses, a gradient and a training step) on a batch; then train a
# small SASRec on synthetic sequences with a planted structure and evaluate
# it; then the generative pipeline on the same data: semantic IDs from the
# SASRec item embeddings (onerec-tokenize), a tiny TIGER trained on them,
# evaluated by beam search and answering generation requests; then score the
# catalog with the full SASRec.
echo "== devices"
build/bin/onerec-run devices
echo "== compiling models/onerec.rdsl --config tiny -> build/onerec-tiny.fb"
build/bin/onerecc models/onerec.rdsl --config tiny -o build/onerec-tiny.fb 2>/dev/null
build/bin/onerec-run inspect build/onerec-tiny.fb
echo "== running every entry of the plan on a random batch of 4"
/usr/bin/python3 test/Models/Inputs/run_entries.py build/bin/onerec-run \
  build/onerec-tiny.fb build/onerec-tiny-run --batch 4
echo "== SASRec: train on synthetic sequences (planted item transitions), evaluate"
build/bin/onerec-data synth --out build/synth --users 1000 --items 200 --seed 1 --force
build/bin/onerecc models/sasrec.rdsl -D items=200 -D max_len=20 -D d=32 -D blocks=1 \
  -o build/sasrec-synth.fb
rm -rf build/sasrec-synth-ckpt   # a fresh run each time set-up runs
build/bin/onerec-run train build/sasrec-synth.fb --data build/synth --epochs 20 \
  --batch 128 --lr 0.005 --eval-every 50 --ckpt-dir build/sasrec-synth-ckpt \
  --metrics build/sasrec-synth-metrics.jsonl
/usr/bin/python3 scripts/plot_metrics.py build/sasrec-synth-metrics.jsonl \
  -o build/sasrec-synth-curves.png
echo "== generative: tokenize SASRec's items, train a tiny TIGER, beam-search eval, generate"
sasrec_ckpt=$(ls build/sasrec-synth-ckpt/ckpt-*.safetensors | tail -n 1)
build/bin/onerec-tokenize --ckpt "$sasrec_ckpt" --tensor item_emb --first-row 1 \
  --data build/synth --codebook 16 -o build/synth-catalog.safetensors \
  --stats build/synth-catalog-stats.json > /dev/null
build/bin/onerecc models/tiger.rdsl --config tiny -D codebook=16 -o build/tiger-synth.fb
rm -rf build/tiger-synth-ckpt
build/bin/onerec-run train build/tiger-synth.fb --data build/synth \
  --catalog build/synth-catalog.safetensors --epochs 3 --batch 128 --lr 0.003 \
  --ckpt-dir build/tiger-synth-ckpt --metrics build/tiger-synth-metrics.jsonl
tiger_ckpt=$(ls build/tiger-synth-ckpt/ckpt-*.safetensors | tail -n 1)
build/bin/onerec-run eval build/tiger-synth.fb --data build/synth \
  --catalog build/synth-catalog.safetensors --ckpt "$tiger_ckpt" --split test --beam 20
printf '%s\n' '{"id": "u0", "user": 0, "history": [1, 7, 42]}' \
  '{"id": "u1", "user": 1, "history": [5, 9]}' > build/tiger-requests.jsonl
build/bin/onerec-run generate build/tiger-synth.fb --ckpt "$tiger_ckpt" \
  --catalog build/synth-catalog.safetensors --requests build/tiger-requests.jsonl \
  --out build/tiger-answers.jsonl --beam 16 --top 5
echo "== SASRec: compile, then score the catalog for 4 users"
build/bin/onerecc models/sasrec.rdsl -o build/sasrec.fb
build/bin/onerec-run inspect build/sasrec.fb --json > build/sasrec-plan.json
/usr/bin/python3 test/Models/Inputs/random_inputs.py build/sasrec-plan.json forward \
  build/sasrec-request.json --batch 4
build/bin/onerec-run forward build/sasrec.fb --input build/sasrec-request.json \
  --output build/sasrec-scores.safetensors --profile
echo "== done: plans in build/*.fb, scores in build/sasrec-scores.safetensors,"
echo "   training curves in build/sasrec-synth-curves.png, generated sessions in"
echo "   build/tiger-answers.jsonl"
