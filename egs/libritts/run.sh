#!/usr/bin/env bash
# Train VALL-E on LibriTTS after egs/libritts/prepare.sh (see docs/training.md). On several GPUs
# run stage 1 under torchrun (docs/training.md); this script runs one process.
#   bash egs/libritts/run.sh --train-stage 1 && bash egs/libritts/run.sh --train-stage 2
# With --config FILE the file's values replace these training defaults (the command line still wins).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
defaults=(--model-preset valle --num-epochs 20 --max-duration 80 --base-lr 0.05 --valid-interval 2000
  --save-every-n 2000)
for arg in "$@"; do
  if [[ "$arg" == --config || "$arg" == --config=* ]]; then defaults=(); fi
done
exec bash "$root/run.sh" --exp-dir exp/libritts "${defaults[@]+"${defaults[@]}"}" "$@"
