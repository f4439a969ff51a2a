#!/usr/bin/env bash
# Data preparation for valle, stages 0-4 (stage contract: README.md "Stages", docs/data.md):
#   0  get the corpus        (LibriTTS: lhotse download into --dl-dir; custom: check --corpus-dir, detect layout)
#   1  manifests             --data-dir/manifests/<corpus>_{recordings,supervisions}_<part>.jsonl.gz + rejects.tsv
#   2  text tokens           phonemes per supervision, --data-dir/tokenized/unique_text_tokens.k2symbols
#   3  audio tokens          --codec codes [frames, 8]; --data-dir/tokenized/<corpus>_cuts_<part>.jsonl.gz, codec.json
#   4  splits and report     --data-dir/tokenized/cuts_{train,dev,test}.jsonl.gz and tokenized/report/
# Each stage logs and runs one python entry point; each skips itself when its outputs are
# current for the same parameters. Recipes (egs/*/prepare.sh) pass their defaults, then "$@".
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

stage=0                 ## first stage to run (0-4)
stop_stage=4            ## last stage to run (inclusive)
nj=2                    ## parallel jobs (audio reading, text and audio tokenization)
corpus=custom           ## corpus recipe: libritts or custom
corpus_dir=""           ## custom: folder with your recordings; libritts: the LibriTTS/ folder (default <dl-dir>/LibriTTS)
dl_dir=download         ## libritts: where stage 0 downloads and unpacks
data_dir=data           ## output folder (manifests/, tokenized/)
layout=auto             ## custom folder layout: auto, ljspeech, libritts, pairs or long (recordings of any length, segmented)
speaker=""              ## custom: one speaker name for every utterance (single-speaker folders)
trim_silence=false      ## custom: supervisions cover only the speech (true|false)
segment_min=2           ## long layout: shortest segment, seconds
segment_max=15          ## long layout: longest segment, seconds
min_confidence=0.6      ## long layout: segments whose alignment/ASR confidence is lower are rejected
loudness=""             ## long layout: write kept segments normalised to this loudness in LUFS, e.g. -23 (sources untouched)
segments_tsv=""         ## long layout: a corrected long_segments.tsv; only the changed rows are aligned again
parts=all               ## libritts: parts for stages 0-1, e.g. "dev-clean train-clean-100"
language=en-us          ## text language (espeak voice such as en-us or de; zh; ja)
text_tokenizer=espeak   ## text tokenizer: espeak, pinyin, openjtalk or vallex
codec=encodec           ## audio codec, recorded for training and synthesis: encodec (published weights: hub cache/download), encodec:PATH, encodec:random (NOT speech; tests) or codec2 (no weights, robotic 8 kHz; offline runs)
device=cpu              ## stage-3 device: cpu or cuda
cpu_encoder=fast        ## stage-3 CPU encoder for --codec encodec: fast (groups of cuts; codes equal encodec's up to float ties) or encodec (its own model.encode per cut, exact, slower)
filter_min_duration=0.5  ## shortest utterance kept, seconds (stages 1 and 4; valle.bin.train's name for the same limit)
filter_max_duration=20   ## longest utterance kept, seconds (stages 1 and 4; valle.bin.train's name for the same limit)
dev_size=0.05           ## custom: dev set size, a count (e.g. 20) or a fraction (e.g. 0.05)
test_size=0.05          ## custom: test set size, a count or a fraction
seed=42                 ## custom: seed of the dev/test draw
split_by_speaker=false  ## custom: dev/test speakers are disjoint from train speakers (true|false)
train_parts="train-clean-100 train-clean-360 train-other-500"  ## libritts: parts that form the train split
dev_parts=dev-clean     ## libritts: parts that form the dev split
test_parts=test-clean   ## libritts: parts that form the test split

usage="Usage: $0 [options]   (stages 0-4: corpus, manifests, text tokens, audio tokens, splits/report)"
# shellcheck disable=SC2034  # read by parse_options.sh
renamed_options="codec_weights=use --codec encodec:PATH (a weights file), --codec encodec:random or --codec codec2
min_duration=use --filter-min-duration (shortest utterance kept, seconds)
max_duration=use --filter-max-duration (longest utterance kept, seconds); --max-duration now means only seconds of audio per training batch (run.sh, valle.bin.train)
lang=use --language (the one spelling of the language option in every command)"
# shellcheck source=local/parse_options.sh
. "$root/local/parse_options.sh" "$@"
# shellcheck source=local/log.sh
. "$root/local/log.sh"

# shellcheck source=local/python.sh
. "$root/local/python.sh"

for n in "$stage" "$stop_stage" "$nj"; do
  if [[ ! "$n" =~ ^[0-9]+$ ]]; then
    echo "Error: --stage, --stop-stage and --nj take non-negative integers, got '$n'." >&2
    exit 1
  fi
done
if [[ "$stage" -gt "$stop_stage" || "$stage" -gt 4 ]]; then
  echo "Error: --stage $stage --stop-stage $stop_stage selects no stage: prepare.sh has stages 0-4 and needs --stage <= --stop-stage." >&2
  exit 1
fi
case "$corpus" in
  libritts|custom) ;;
  *) echo "Error: --corpus must be libritts or custom, got '$corpus'." >&2; exit 1 ;;
esac
if [[ "$corpus" == custom && -z "$corpus_dir" && "$stop_stage" -ge 0 && "$stage" -le 1 ]]; then
  echo "Error: --corpus custom needs --corpus-dir DIR (the folder with your recordings)." >&2
  exit 1
fi

# Absolute paths: stage 3 records where the code archives are, and cuts must load from any cwd.
data_dir="$(realpath -m -- "$data_dir")"
manifests_dir="$data_dir/manifests"
tokenized_dir="$data_dir/tokenized"
log "-" "prepare.sh ${OPTION_SUMMARY[*]}"

corpus_opts=(--corpus "$corpus" --output-dir "$manifests_dir" --dl-dir "$dl_dir" --parts "$parts"
  --layout "$layout" --trim-silence "$trim_silence" --filter-min-duration "$filter_min_duration"
  --filter-max-duration "$filter_max_duration" --nj "$nj")
if [[ -n "$corpus_dir" ]]; then corpus_opts+=(--corpus-dir "$corpus_dir"); fi
if [[ -n "$speaker" ]]; then corpus_opts+=(--speaker "$speaker"); fi
corpus_opts+=(--segment-min "$segment_min" --segment-max "$segment_max" --min-confidence "$min_confidence")
if [[ -n "$loudness" ]]; then corpus_opts+=(--loudness "$loudness"); fi
if [[ -n "$segments_tsv" ]]; then corpus_opts+=(--segments-tsv "$(realpath -m -- "$segments_tsv")"); fi

if [[ "$stage" -le 0 && "$stop_stage" -ge 0 ]]; then
  log 0 "get the corpus ($corpus)"
  run 0 "$python" -m valle.bin.prepare_manifests --stage 0 "${corpus_opts[@]}"
fi

if [[ "$stage" -le 1 && "$stop_stage" -ge 1 ]]; then
  log 1 "manifests and rejects.tsv in $manifests_dir"
  run 1 "$python" -m valle.bin.prepare_manifests --stage 1 "${corpus_opts[@]}"
fi

if [[ "$stage" -le 2 && "$stop_stage" -ge 2 ]]; then
  log 2 "text tokens ($text_tokenizer, $language) into $tokenized_dir"
  run 2 "$python" -m valle.bin.tokenize_text --manifests-dir "$manifests_dir" --output-dir "$tokenized_dir" \
    --prefix "$corpus" --text-tokenizer "$text_tokenizer" --language "$language" --nj "$nj"
fi

if [[ "$stage" -le 3 && "$stop_stage" -ge 3 ]]; then
  log 3 "audio tokens ($codec on $device) into $tokenized_dir"
  run 3 "$python" -m valle.bin.tokenize_audio --manifests-dir "$manifests_dir" --tokenized-dir "$tokenized_dir" \
    --prefix "$corpus" --codec "$codec" --device "$device" --cpu-encoder "$cpu_encoder" --nj "$nj"
fi

if [[ "$stage" -le 4 && "$stop_stage" -ge 4 ]]; then
  log 4 "splits and report in $tokenized_dir"
  run 4 "$python" -m valle.bin.split_and_report --tokenized-dir "$tokenized_dir" --manifests-dir "$manifests_dir" \
    --prefix "$corpus" --corpus "$corpus" --filter-min-duration "$filter_min_duration" --filter-max-duration "$filter_max_duration" \
    --dev-size "$dev_size" --test-size "$test_size" --seed "$seed" --split-by-speaker "$split_by_speaker" \
    --train-parts "$train_parts" --dev-parts "$dev_parts" --test-parts "$test_parts"
fi

log "-" "prepare.sh finished stages $stage-$stop_stage"
