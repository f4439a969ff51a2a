#!/usr/bin/env bash
# Train on your own recordings after egs/custom/prepare.sh (see docs/training.md):
#   bash egs/custom/run.sh --train-stage 1 && bash egs/custom/run.sh --train-stage 2
# Training defaults: egs/custom/conf/train.yaml. A --config FILE (e.g. egs/custom/conf/finetune_ar.yaml
# to fine-tune the published VALL-E X model) overrides them; the command line overrides both.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec bash "$root/run.sh" --exp-dir exp/custom --recipe-config "$root/egs/custom/conf/train.yaml" "$@"
