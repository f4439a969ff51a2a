#!/usr/bin/env bash
# Training and synthesis for valle (see docs/training.md), after prepare.sh:
#   1  train          python -m valle.bin.train  (--train-stage 0 = AR+NAR, 1 = AR, 2 = NAR)
#   2  average        python -m valle.bin.average (the last --avg checkpoints after the LR warm-up)
#   3  synthesize     python -m valle.bin.infer for a few dev utterances into <exp-dir>/samples/,
#                     with the run's result: best-valid-loss.pt (averaged.pt when there is no dev set);
#                     then python -m valle.bin.make_voice saves one voice per dev speaker into <exp-dir>/voices/
#   4  evaluate       python -m valle.bin.evaluate: WER, speaker similarity, DNSMOS into <exp-dir>/eval/
# Any option not listed below (e.g. --max-duration 60 --base-lr 0.03 --trainable 'ar_*') is passed
# through to valle.bin.train unchanged; recipes (egs/*/run.sh) pass --recipe-config
# egs/<corpus>/conf/train.yaml, their training defaults, then "$@" (precedence: recipe YAML <
# --config FILE < command line, applied by valle.bin.train).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

stage=1                 ## first stage to run (1 train, 2 average, 3 synthesize)
stop_stage=3            ## last stage to run (inclusive; 4 = also evaluate)
train_stage=0           ## 0 = AR and NAR jointly, 1 = AR only, 2 = NAR only
data_dir=data           ## what prepare.sh wrote (uses <data-dir>/tokenized)
exp_dir=exp/valle       ## experiment dir: checkpoints, logs, tensorboard/, samples/
model_preset=""         ## model size: nano, small, valle or vallex (empty: the YAML's or valle.bin.train's default)
num_epochs=""           ## training epochs (empty: the YAML's or valle.bin.train's default)
avg=3                   ## stage 2: number of checkpoints to average
num_samples=3           ## stage 3: dev utterances to synthesize
infer_device=cpu        ## stage 3: cpu or cuda
voices=true             ## stage 3: also save one voice per dev speaker into <exp-dir>/voices (true|false)
eval_mode=cross-sentence  ## stage 4: cross-sentence (prompt = another utterance) or continuation (first 3 s)
eval_num=50             ## stage 4: test utterances (held-out cuts, fixed seed)
eval_cuts="test dev"    ## stage 4: which <data-dir>/tokenized/cuts_<split> files the test list comes from
eval_min_seconds=4      ## stage 4: shortest test utterance (the VALL-E protocol: 4-10 s)
eval_max_seconds=10     ## stage 4: longest test utterance
eval_asr=pocketsphinx   ## stage 4: pocketsphinx (offline), hubert-large, whisper:<size or dir>
eval_speaker=resemblyzer  ## stage 4: resemblyzer (offline), wavlm-sv[:dir], ecapa[:dir]

# shellcheck disable=SC2034  # read by parse_options.sh for --help
usage="Usage: $0 [options] [valle.bin.train options...]   (stages 1-4: train, average, synthesize, evaluate)
Any option not listed here goes to valle.bin.train (see: python -m valle.bin.train --help)."

pass_unknown_options=true  # any other option goes to valle.bin.train (PASS_THROUGH_ARGS)
# shellcheck source=local/parse_options.sh
. "$root/local/parse_options.sh" "$@"
train_args=("${PASS_THROUGH_ARGS[@]+"${PASS_THROUGH_ARGS[@]}"}")
if [[ ${#POSITIONAL_ARGS[@]} -gt 0 ]]; then echo "Error: unexpected argument(s) after --: ${POSITIONAL_ARGS[*]}" >&2; exit 1; fi
# shellcheck source=local/log.sh
. "$root/local/log.sh"

# shellcheck source=local/python.sh
. "$root/local/python.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

case "$train_stage" in
  0|1|2) ;;
  *) echo "Error: --train-stage must be 0, 1 or 2, got '$train_stage'." >&2; exit 1 ;;
esac
for n in "$stage" "$stop_stage" "${num_epochs:-0}" "$avg" "$num_samples" "$eval_num"; do
  if [[ ! "$n" =~ ^[0-9]+$ ]]; then
    echo "Error: --stage, --stop-stage, --num-epochs, --avg, --num-samples and --eval-num take integers, got '$n'." >&2
    exit 1
  fi
done
if [[ "$stage" -gt "$stop_stage" || "$stage" -gt 3 ]]; then
  echo "Error: --stage $stage --stop-stage $stop_stage selects no stage: run.sh has stages 1-3 and needs --stage <= --stop-stage." >&2
  exit 1
fi
tokenized="$data_dir/tokenized"
log "-" "run.sh ${OPTION_SUMMARY[*]} ${train_args[*]+${train_args[*]}}"

if [[ "$stage" -le 1 && "$stop_stage" -ge 1 ]]; then
  log 1 "train stage $train_stage into $exp_dir"
  opts=(--tokenized-dir "$tokenized" --exp-dir "$exp_dir" --train-stage "$train_stage")
  if [[ -n "$model_preset" ]]; then opts+=(--model-preset "$model_preset"); fi
  if [[ -n "$num_epochs" ]]; then opts+=(--num-epochs "$num_epochs"); fi
  run 1 "$python" -m valle.bin.train "${opts[@]}" "${train_args[@]+"${train_args[@]}"}"
fi

averaged="$exp_dir/averaged.pt"
if [[ "$stage" -le 2 && "$stop_stage" -ge 2 ]]; then
  log 2 "average the last $avg checkpoints of $exp_dir"
  run 2 "$python" -m valle.bin.average --exp-dir "$exp_dir" --num "$avg" --kind auto --output "$averaged"
fi

if [[ "$stage" -le 3 && "$stop_stage" -ge 3 ]]; then
  # The result of a run (docs/training.md): best-valid-loss.pt; averaged.pt only without a dev set.
  checkpoint="$exp_dir/best-valid-loss.pt"
  if [[ ! -f "$checkpoint" ]]; then
    checkpoint="$averaged"
  fi
  if [[ ! -f "$checkpoint" ]]; then
    echo "Error: no $exp_dir/best-valid-loss.pt or $averaged: run stages 1-2 first." >&2
    exit 1
  fi
  mkdir -p "$exp_dir/samples"
  log 3 "synthesize $num_samples dev utterances with $checkpoint (and its codec) into $exp_dir/samples"
  # dev utterances first; a tiny corpus may need test or train ones too. An AR never joined by a
  # trained NAR, or a codec whose weights are missing, skips the stage: infer says why, exit 0.
  "$python" -m valle.train.dev_prompts --num "$num_samples" \
    --cuts "$tokenized/cuts_dev.jsonl.gz" "$tokenized/cuts_test.jsonl.gz" "$tokenized/cuts_train.jsonl.gz" |
    while IFS= read -r -d '' name && IFS= read -r -d '' audio && IFS= read -r -d '' ptext &&
      IFS= read -r -d '' text && IFS= read -r -d '' lang; do  # NUL-separated: names may hold tabs/newlines
      rm -f "$exp_dir/samples/$name.wav"
      run 3 "$python" -m valle.bin.infer --checkpoint "$checkpoint" --text "$text" --text-prompt "$ptext" \
        --audio-prompt "$audio" --language "$lang" --device "$infer_device" --skip-unusable true \
        --output "$exp_dir/samples/$name.wav" </dev/null
      if [[ ! -f "$exp_dir/samples/$name.wav" ]]; then log 3 "skipped (see the line above)"; break; fi
    done
  # a reusable voice per dev speaker (train speakers without a dev set), for valle.bin.infer --voice NAME
  if [[ "$voices" == true ]]; then
    log 3 "save one voice per dev speaker into $exp_dir/voices"
    run 3 "$python" -m valle.bin.make_voice --checkpoint "$checkpoint" --tokenized-dir "$tokenized" --all-speakers \
      --cuts dev train --voices-dir "$exp_dir/voices" --device "$infer_device" --skip-unusable </dev/null
  fi
  if compgen -G "$exp_dir/samples/*.wav" >/dev/null; then
    log 3 "serve it: $python -m valle.bin.serve --checkpoint $checkpoint --voices-dir $exp_dir/voices (voices from valle.bin.make_voice, or NAME.wav + NAME.txt prompts; docs/serving.md), then open http://127.0.0.1:8000/"
  fi
fi

if [[ "$stage" -le 4 && "$stop_stage" -ge 4 ]]; then
  read -r -a eval_splits <<< "$eval_cuts"  # one word per split name
  eval_cut_files=()
  for split in "${eval_splits[@]}"; do eval_cut_files+=("$tokenized/cuts_$split.jsonl.gz"); done
  eval_checkpoint="$exp_dir/best-valid-loss.pt"  # the run's result, as in stage 3
  if [[ ! -f "$eval_checkpoint" ]]; then eval_checkpoint="$averaged"; fi
  eval_opts=(--list "$exp_dir/eval/test_$eval_mode.tsv" --cuts "${eval_cut_files[@]}" --mode "$eval_mode"
    --num "$eval_num" --min-seconds "$eval_min_seconds" --max-seconds "$eval_max_seconds"
    --checkpoint "$eval_checkpoint" --exp-dir "$exp_dir" --name "$eval_mode" --asr "$eval_asr"
    --speaker "$eval_speaker" --device "$infer_device")
  log 4 "evaluate $eval_checkpoint on $eval_num $eval_mode utterances into $exp_dir/eval/$eval_mode"
  run 4 "$python" -m valle.bin.evaluate "${eval_opts[@]}"
fi
log "-" "done"
