#!/usr/bin/env bash
# Train on your own recordings after egs/custom/prepare.sh (see docs/training.md):
#   bash egs/custom/run.sh --train-stage 1 && bash egs/custom/run.sh --train-stage 2
# Small data: the small preset, many short epochs, frequent validation. With --config FILE
# (e.g. egs/custom/conf/finetune_ar.yaml to fine-tune the published VALL-E X model) the file's
# values replace these training defaults; options on the command line still win.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
defaults=(--model-preset small --num-epochs 50 --max-duration 40 --valid-interval 200 --save-every-n 200)
for arg in "$@"; do
  if [[ "$arg" == --config || "$arg" == --config=* ]]; then defaults=(); fi
  if [[ "$arg" == -h || "$arg" == --help ]]; then
    # Show run.sh's own defaults, then these, which --config FILE replaces by the file's values.
    echo "egs/custom defaults, passed to run.sh unless --config FILE is given (then the file's values apply): ${defaults[*]}"
    defaults=()
  fi
done
exec bash "$root/run.sh" --exp-dir exp/custom "${defaults[@]+"${defaults[@]}"}" "$@"
