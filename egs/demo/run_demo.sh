#!/usr/bin/env bash
# `make demo`: the whole pipeline on a small built-in corpus, on CPU, in a few minutes.
#   0  codec       valle.demo.codec_choice: Encodec with its published weights when the torch hub cache
#                  has them (or they can be downloaded), else codec2 1200 (no weights; docs/codec.md says
#                  why 1200 and not 3200); a banner says which and why
#   1  corpus      valle.demo.make_corpus, spoken by espeak-ng voices in the LibriTTS layout -> demo/corpus/
#                  Encodec: the project's sentences (valle/demo/sentences.txt), 3 voices;
#                  codec2: sentences of a small grammar (valle/demo/grammar.py), 4 voices, and
#                  held-out sentences that are NOT in the corpus -> demo/corpus_heldout/
#   2  prepare     egs/custom/prepare.sh (manifests, phonemes, codec codes, splits, report) -> demo/data/
#   3  train       egs/custom/run.sh on CPU -> demo/exp/
#                  Encodec: nano model, AR+NAR (--train-stage 0), DEMO_STEPS steps; codec2: d128 x 3 layers
#                  with the options of egs/demo/conf/codec2_short_budget.yaml (same-speaker utterance pairs,
#                  untied NAR outputs, a one-pass NAR for every codebook), DEMO_CPU_SECONDS of process CPU time
#                  split evenly between the AR alone (demo/exp/ar) and the NAR alone (demo/exp/nar),
#                  which train side by side, one thread each (docs/benchmarks.md, "codec2 1200's
#                  pitch/energy as absolute cells")
#   4  synthesize  valle.bin.infer: a new sentence in a corpus voice -> demo/out.wav (+ out.json); codec2:
#                  greedy (fewer words lost than top-k 5 on the held-out sentences)
#   5  score       codec2 only, valle.demo.score: pocketsphinx (held to the grammar) transcribes out.wav and
#                  the codec2 resynthesis of the same sentence spoken by espeak-ng; both WERs are printed
# Every step skips work already done for the same settings, so a rerun is quick and safe.
# Environment: DEMO_DIR (default demo), DEMO_STEPS (Encodec training steps, default 250),
# DEMO_CPU_SECONDS (codec2 training budget, default 480), DEMO_SENTENCES (codec2 corpus, default 1200: with 300 the
# model overfitted within the budget; docs/benchmarks.md, "The demo's corpus"), CODEC (force a prepare.sh --codec value:
# encodec, encodec:PATH, encodec:random, codec2:1200 or codec2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
python="${PYTHON:-$root/.venv/bin/python}"
demo="${DEMO_DIR:-demo}"
steps="${DEMO_STEPS:-250}"
cpu_seconds="${DEMO_CPU_SECONDS:-480}"
sentences="${DEMO_SENTENCES:-1200}"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export VALLE_DOWNLOAD_TIMEOUT="${VALLE_DOWNLOAD_TIMEOUT:-5}"
start=$(date +%s)
say() { echo "[demo $(date +%H:%M:%S)] $*"; }

if [[ -n "${CODEC_WEIGHTS:-}" ]]; then
  echo "Error: CODEC_WEIGHTS was replaced by CODEC (a prepare.sh --codec value: encodec:PATH, encodec:random or codec2)." >&2
  exit 1
fi
codec_args=()
if [[ -n "${CODEC:-}" ]]; then codec_args=(--codec "$CODEC"); fi
say "0/5 codec"
codec="$("$python" -m valle.demo.codec_choice --record "$demo/codec.json" "${codec_args[@]+"${codec_args[@]}"}")"

if [[ "$codec" == codec2* ]]; then
  say "1/5 corpus: 4 espeak-ng voices x $sentences grammar sentences (+ 5 held-out ones) -> $demo/corpus"
  "$python" -m valle.demo.make_corpus --output-dir "$demo/corpus" --heldout-dir "$demo/corpus_heldout" \
    --sentences grammar --num-sentences "$sentences" --num-heldout 5 --num-voices 4 --num-jobs 2
else
  say "1/5 corpus: espeak-ng voices x built-in sentences -> $demo/corpus"
  "$python" -m valle.demo.make_corpus --output-dir "$demo/corpus" --num-voices 3 --num-jobs 2
fi

say "2/5 prepare: manifests, phonemes, $codec codes, splits, report -> $demo/data"
bash egs/custom/prepare.sh --corpus-dir "$demo/corpus" --data-dir "$demo/data" --language en-us \
  --codec "$codec" --nj 2 --dev-size 8 --test-size 4

if [[ "$codec" == codec2* ]]; then
  ar_seconds=$(( cpu_seconds / 2 )); nar_seconds=$(( cpu_seconds - ar_seconds ))
  say "3/5 train: d128 x 3 layers on utterance pairs, the AR alone for $ar_seconds and the NAR alone for $nar_seconds CPU seconds -> $demo/exp"
  # The two stages are independent: on 2 cores they train side by side, one thread each (the budgets
  # are CPU seconds of each process, so the result is the same as one after the other); the NAR's log
  # goes to $demo/exp/nar.log and is printed when it ends.
  train_part() {  # TRAIN_STAGE NAME SECONDS
    if [[ -f "$demo/exp/$2/trained-$3" ]]; then
      say "   $2 already trained for $3 CPU seconds ($demo/exp/$2/trained-$3)"; return 0
    fi
    OMP_NUM_THREADS=1 bash egs/custom/run.sh --data-dir "$demo/data" --exp-dir "$demo/exp/$2" --stop-stage 1 \
      --config egs/demo/conf/codec2_short_budget.yaml \
      --train-stage "$1" --max-cpu-seconds "$3" --keep-last-k 1 \
      && touch "$demo/exp/$2/trained-$3"
  }
  mkdir -p "$demo/exp"
  set -m  # the NAR in a process group of its own, so that a failure or Ctrl-C stops all it started
  train_part 2 nar "$nar_seconds" > "$demo/exp/nar.log" 2>&1 &
  nar_pid=$!
  set +m
  trap 'kill -- "-$nar_pid" 2>/dev/null || true' EXIT
  train_part 1 ar "$ar_seconds"
  say "   AR done; waiting for the NAR (log: $demo/exp/nar.log)"
  if ! wait "$nar_pid"; then
    tail -n 20 "$demo/exp/nar.log" >&2
    echo "Error: the NAR's training failed; its log is $demo/exp/nar.log" >&2
    exit 1
  fi
  trap - EXIT
  tail -n 3 "$demo/exp/nar.log"
  newest() { ls "$1"/checkpoint-*.pt | sort -t- -k2 -n | tail -n 1; }
  checkpoint_args=(--ar-checkpoint "$(newest "$demo/exp/ar")" --nar-checkpoint "$(newest "$demo/exp/nar")")
  prompt_txt="$demo/corpus/2001/1/2001_1_000000.normalized.txt"
  text="$(cat "$demo/corpus_heldout/2001/1/2001_1_000000.normalized.txt")"
  top_k=1
else
  say "3/5 train: nano AR+NAR for $steps steps on CPU -> $demo/exp"
  bash egs/custom/run.sh --data-dir "$demo/data" --exp-dir "$demo/exp" --model-preset nano \
    --train-stage 0 --num-epochs 1000 --max-steps "$steps" --avg 1 --num-samples 2 \
    --device cpu --num-workers 0 --max-duration 20 --base-lr 0.05 --warmup-steps 30 \
    --valid-interval 100 --save-every-n 100 --keep-last-k 2
  checkpoint="$demo/exp/averaged.pt"
  [[ -f "$checkpoint" ]] || checkpoint="$demo/exp/best-valid-loss.pt"
  checkpoint_args=(--checkpoint "$checkpoint")
  prompt_txt="$demo/corpus/1002/1/1002_1_000004.normalized.txt"
  text="A quiet morning is the best time to practise a new song."
  top_k=20
fi

say "4/5 synthesize a sentence the model never heard, in the voice of $(basename "$(dirname "$(dirname "$prompt_txt")")") -> $demo/out.wav"
"$python" -m valle.bin.infer "${checkpoint_args[@]}" --text "$text" \
  --text-prompt "$(cat "$prompt_txt")" --audio-prompt "${prompt_txt%.normalized.txt}.wav" \
  --language en-us --top-k "$top_k" --seed 1 --max-len-ratio 8 --output "$demo/out.wav"

if [[ "$codec" == codec2* ]]; then
  say "5/5 score: pocketsphinx + the grammar on out.wav and on codec2 resynthesis of the espeak-ng sentence"
  "$python" -m valle.demo.score --wav "$demo/out.wav" --text "$text" \
    --reference-wav "$demo/corpus_heldout/2001/1/2001_1_000000.wav" --output "$demo/score.json"
fi

elapsed=$(( $(date +%s) - start ))
note=""
if [[ "$codec" == encodec:random ]]; then
  note="  (RANDOM Encodec weights: plumbing output, not speech; see $demo/out.json)"
elif [[ "$codec" == codec2* ]]; then
  note="  ($codec, 8 kHz; scores in $demo/score.json)"
fi
cat <<EOF2

================================ demo done in ${elapsed}s ================================
  codec:        $codec (why: $demo/codec.json)
  wav:          $demo/out.wav$note
  metadata:     $demo/out.json
  data report:  $demo/data/tokenized/report/
  checkpoints:  ${checkpoint_args[*]}
Rerun 'make demo' at any time: finished steps are skipped.
EOF2
