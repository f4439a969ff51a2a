#!/usr/bin/env bash
# Train VALL-E on LibriTTS after egs/libritts/prepare.sh (see docs/training.md). On several GPUs
# run stage 1 under torchrun (docs/training.md); this script runs one process.
#   bash egs/libritts/run.sh --train-stage 1 && bash egs/libritts/run.sh --train-stage 2
# Training defaults: egs/libritts/conf/train.yaml; a --config FILE overrides them, the command line both.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec bash "$root/run.sh" --exp-dir exp/libritts --recipe-config "$root/egs/libritts/conf/train.yaml" "$@"
