#!/usr/bin/env bash
# Makes the bundled model from scratch, by hand (CI never runs this; its outputs are committed):
# corpus → tokenizer → train the MoE and its dense baseline → export + greedy fixture.
# Needs Debian's python3-torch, python3-numpy and libopenblas0-pthread (without OpenBLAS, torch
# falls back to the reference BLAS and trains ~10× slower). About 70 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/model
model=public/models/austen-moe
py=/usr/bin/python3
$py scripts/model/corpus.py "$build/corpus"
node scripts/model/tokenizer.mjs "$build/corpus" "$model"
mkdir -p "$build/run"
$py scripts/model/train.py --arch moe --data "$build/corpus" --out "$build/run"
$py scripts/model/train.py --arch dense --data "$build/corpus" --out "$build/run"
$py scripts/model/export.py "$build/run" "$model" test/fixtures/austen_greedy.json
cp "$build/run/moe.json" "$build/run/dense.json" scripts/model/runs/
