#!/usr/bin/env bash
# `make demo`: the whole pipeline on a small built-in corpus, on CPU, in a few minutes.
#   1  corpus      valle.demo.make_corpus: the project's own sentences (valle/demo/sentences.txt)
#                  spoken by 3 espeak-ng voices, in the LibriTTS layout        -> demo/corpus/
#   2  prepare     egs/custom/prepare.sh (manifests, phonemes, codec codes, splits, report) -> demo/data/
#   3  train       egs/custom/run.sh: nano AR+NAR (--train-stage 0), briefly, on CPU -> demo/exp/
#                  (its stage 3 also writes samples for a few dev sentences into demo/exp/samples/)
#   4  synthesize  valle.bin.infer: one new sentence in a corpus voice   -> demo/out.wav (+ out.json)
# Encodec: the published weights when the torch hub cache has them (or they can be downloaded);
# otherwise seeded random weights, announced in a banner and recorded in demo/out.json.
# Every step skips work already done for the same settings, so a rerun is quick and safe.
# Environment: DEMO_DIR (default demo), DEMO_STEPS (training steps, default 250),
# CODEC (force a prepare.sh --codec value: encodec, encodec:PATH, encodec:random or codec2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
python="${PYTHON:-$root/.venv/bin/python}"
demo="${DEMO_DIR:-demo}"
steps="${DEMO_STEPS:-250}"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export VALLE_DOWNLOAD_TIMEOUT="${VALLE_DOWNLOAD_TIMEOUT:-5}"
start=$(date +%s)
say() { echo "[demo $(date +%H:%M:%S)] $*"; }

say "1/4 corpus: espeak-ng voices x built-in sentences -> $demo/corpus"
"$python" -m valle.demo.make_corpus --output-dir "$demo/corpus" --num-voices 3 --num-jobs 2

if [[ -n "${CODEC_WEIGHTS:-}" ]]; then
  echo "Error: CODEC_WEIGHTS was replaced by CODEC (a prepare.sh --codec value: encodec:PATH, encodec:random or codec2)." >&2
  exit 1
fi
codec_args=()
if [[ -n "${CODEC:-}" ]]; then codec_args=(--codec "$CODEC"); fi
codec="$("$python" -m valle.demo.codec_choice --record "$demo/codec.json" "${codec_args[@]+"${codec_args[@]}"}")"
say "codec: $codec"

say "2/4 prepare: manifests, phonemes, $codec codes, splits, report -> $demo/data"
bash egs/custom/prepare.sh --corpus-dir "$demo/corpus" --data-dir "$demo/data" --lang en-us \
  --codec "$codec" --nj 2 --dev-size 8 --test-size 4

say "3/4 train: nano AR+NAR for $steps steps on CPU -> $demo/exp"
bash egs/custom/run.sh --data-dir "$demo/data" --exp-dir "$demo/exp" --model-preset nano \
  --train-stage 0 --num-epochs 1000 --max-steps "$steps" --avg 1 --num-samples 2 \
  --device cpu --num-workers 0 --max-duration 20 --base-lr 0.05 --warmup-steps 30 \
  --valid-interval 100 --save-every-n 100 --keep-last-k 2

say "4/4 synthesize a new sentence in voice 1002 -> $demo/out.wav"
checkpoint="$demo/exp/averaged.pt"
[[ -f "$checkpoint" ]] || checkpoint="$demo/exp/best-valid-loss.pt"
prompt_txt="$demo/corpus/1002/1/1002_1_000004.normalized.txt"
"$python" -m valle.bin.infer --checkpoint "$checkpoint" \
  --text "A quiet morning is the best time to practise a new song." \
  --text-prompt "$(cat "$prompt_txt")" --audio-prompt "${prompt_txt%.normalized.txt}.wav" \
  --language en-us --top-k 20 --seed 1 --min-len-ratio 4 --max-len-ratio 8 --output "$demo/out.wav"

elapsed=$(( $(date +%s) - start ))
random_note=""
if [[ "$codec" == encodec:random ]]; then
  random_note="  (RANDOM Encodec weights: plumbing output, not speech; see $demo/out.json)"
fi
cat <<EOF

================================ demo done in ${elapsed}s ================================
  wav:          $demo/out.wav$random_note
  metadata:     $demo/out.json
  data report:  $demo/data/tokenized/report/
  TensorBoard:  tensorboard --logdir $demo/exp/tensorboard
  dev samples:  $demo/exp/samples/
  checkpoint:   $checkpoint
Rerun 'make demo' at any time: finished steps are skipped.
EOF
