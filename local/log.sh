# shellcheck shell=bash
# Logging helpers for valle's stage drivers. Source it, then:
#
#     log 3 "audio tokens for $corpus"       # 2026-01-01T12:00:00Z [stage 3] audio tokens for custom
#     run 3 python -m valle.bin.tokenize_audio --nj "$nj" ...
#
# `run STAGE CMD ARGS...` logs the exact command (shell-quoted, copy-pasteable) and then runs
# it; its exit status is the command's, so `run ... || exit 1` and `set -e` behave as usual.
# Messages go to stderr so stdout stays free for data a stage may print.

log() {
  local stage="$1"
  shift
  printf '%s [stage %s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$stage" "$*" >&2
}

run() {
  local stage="$1"
  shift
  local quoted
  quoted="$(printf '%q ' "$@")"
  log "$stage" "run: ${quoted% }"
  "$@"
}
