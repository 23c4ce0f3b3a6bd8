#!/usr/bin/env bash
# Makes the bundled model from scratch, by hand (CI never runs this; its outputs are committed):
# corpus → conversations → tokenizer → train the MoE and its dense baseline → export → the chat
# fine-tune from the exported model → export again + greedy fixture.
# Needs Debian's python3-torch, python3-numpy and libopenblas0-pthread (without OpenBLAS, torch
# falls back to the reference BLAS and trains ~10× slower). About 70 minutes on 2 idle CPU cores for
# the pretraining, and a few more for the fine-tune (far longer on a busy machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/model
model=public/models/austen-moe
fixture=test/fixtures/austen_greedy.json
py=/usr/bin/python3
$py scripts/model/corpus.py "$build/corpus"
$py scripts/model/dialogue.py "$build/corpus"
node scripts/model/tokenizer.mjs "$build/corpus" "$model"
node scripts/model/chats.mjs "$build/corpus" "$model"  # with the committed chat_template.jinja
mkdir -p "$build/run"
$py scripts/model/train.py --arch moe --data "$build/corpus" --out "$build/run"
$py scripts/model/train.py --arch dense --data "$build/corpus" --out "$build/run"
$py scripts/model/export.py "$build/run" "$model" "$fixture"
$py scripts/model/train.py --arch moe --data "$build/corpus" --out "$build/run" --init "$model" --chat --name moe-chat \
  --steps 100 --batch 4 --lr 1e-3 --val-windows 42
$py scripts/model/export.py "$build/run" "$model" "$fixture" moe-chat
cp "$build/run/moe.json" "$build/run/dense.json" "$build/run/moe-chat.json" scripts/model/runs/
