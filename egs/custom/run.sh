#!/usr/bin/env bash
# Train on your own recordings after egs/custom/prepare.sh (see docs/training.md):
#   bash egs/custom/run.sh --train-stage 1 && bash egs/custom/run.sh --train-stage 2
# Small data: the small preset, short epochs, frequent validation. Fine-tuning the published
# VALL-E X model instead: --config egs/custom/conf/finetune_ar.yaml --init-from FILE (see the file).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec bash "$root/run.sh" --model-preset small --exp-dir exp/custom --num-epochs 50 \
  --max-duration 40 --valid-interval 200 --save-every-n 200 "$@"
