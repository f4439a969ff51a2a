# shellcheck shell=bash
# Command-line options for valle's bash stage drivers (prepare.sh, run.sh, egs/*/…).
#
# Design: an option is an ordinary shell variable assignment carrying a `##` help comment,
# written at the top level of the driver before this file is sourced:
#
#     stage=0                 ## first stage to run
#     stop_stage=4            ## last stage to run (inclusive)
#     corpus_dir=""           ## folder holding your recordings
#     trim_silence=false      ## cut leading/trailing silence (true|false)
#     . "$root/local/parse_options.sh" "$@"
#
# Why assignments and not an `opt name default help` function: shellcheck (and a reader) can
# see where every variable gets its default, so `shellcheck -S warning` passes without
# disabling "referenced but not assigned" checks, and the help text lives next to the default.
# Only assignments with a `##` comment are options; plain assignments stay internal.
#
# Accepted syntax (later occurrences win, so a recipe can pass its defaults first, then "$@"):
#     --name value   --name=value   dashes and underscores are interchangeable (--stop-stage)
#     --flag         for options whose default is true|false: means --flag true
#     --help, -h     print the `usage` variable (if set) and every option with its current
#                    value (the default, or what a wrapping recipe passed before --help), exit 0
#     --             end of options; everything after it goes to the POSITIONAL_ARGS array
# Errors (exit 1, message on stderr): an unknown option (the message lists the valid ones),
# a missing value, a non-boolean value for a true|false option, or a stray positional argument.
# A driver may set `renamed_options` (lines "old_name=what to use instead") before sourcing this:
# an old option name then fails with a line naming its replacement.
# A driver that wraps a Python stage may set `pass_unknown_options=true`: an unknown `--name` and
# every value up to the next `--option` (`--trainable 'ar_*' 'nar_*'`) then go, in order, to the
# PASS_THROUGH_ARGS array instead of failing (run.sh hands them to valle.bin.train).
#
# After parsing, the array OPTION_SUMMARY holds "--name value" (value shell-quoted) for every
# option, which drivers log once so a run's parameters are in its log.

_po_file="${BASH_SOURCE[1]:-$0}"
if [[ ! -f "$_po_file" ]]; then
  echo "parse_options.sh: cannot read the calling script '$_po_file' to find its options" >&2
  exit 1
fi

# Collect option names and help texts from the caller's `name=value ## help` lines.
_po_names=()
_po_helps=()
while IFS= read -r _po_line; do
  if [[ "$_po_line" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=.*[[:space:]]##[[:space:]]*(.*)$ ]]; then
    _po_names+=("${BASH_REMATCH[1]}")
    _po_helps+=("${BASH_REMATCH[2]}")
  fi
done < "$_po_file"

_po_index() {  # print the index of option $1 (underscore form) or return 1
  local i
  for i in "${!_po_names[@]}"; do
    if [[ "${_po_names[$i]}" == "$1" ]]; then echo "$i"; return 0; fi
  done
  return 1
}

_po_valid_list() {
  local n out=""
  for n in "${_po_names[@]}"; do out+=" --${n//_/-}"; done
  echo "${out# }"
}

_po_help() {
  local i n
  if [[ -n "${usage:-}" ]]; then printf '%s\n\n' "$usage"; fi
  echo "Options (--name value or --name=value; current default in brackets):"
  for i in "${!_po_names[@]}"; do
    n="${_po_names[$i]}"
    printf '  --%-22s %s [%s]\n' "${n//_/-}" "${_po_helps[$i]}" "${!n-}"
  done
  if [[ ${#PASS_THROUGH_ARGS[@]} -gt 0 ]]; then
    printf '\nPassed on to the stage command: %s\n' "${PASS_THROUGH_ARGS[*]}"
  fi
}

POSITIONAL_ARGS=()
PASS_THROUGH_ARGS=()
while [[ $# -gt 0 ]]; do
  _po_arg="$1"
  case "$_po_arg" in
    --help|-h)
      _po_help
      exit 0
      ;;
    --)
      shift
      POSITIONAL_ARGS+=("$@")
      break
      ;;
    --*)
      _po_key="${_po_arg#--}"
      _po_has_value=false
      if [[ "$_po_key" == *=* ]]; then
        _po_value="${_po_key#*=}"
        _po_key="${_po_key%%=*}"
        _po_has_value=true
      fi
      _po_name="${_po_key//-/_}"
      if ! _po_i="$(_po_index "$_po_name")"; then
        while IFS='=' read -r _po_old _po_new; do
          if [[ -n "$_po_old" && "$_po_old" == "$_po_name" ]]; then
            echo "Error: --$_po_key was replaced: $_po_new" >&2
            exit 1
          fi
        done <<< "${renamed_options:-}"
        if [[ "${pass_unknown_options:-false}" == true ]]; then
          PASS_THROUGH_ARGS+=("$_po_arg")
          shift
          while [[ $# -gt 0 && "$1" != --* ]]; do PASS_THROUGH_ARGS+=("$1"); shift; done
          continue
        fi
        echo "Error: unknown option '--$_po_key' for ${_po_file##*/}." >&2
        echo "Valid options: $(_po_valid_list)" >&2
        echo "Run with --help to see each option's meaning and default." >&2
        exit 1
      fi
      _po_current="${!_po_name-}"
      _po_is_bool=false
      if [[ "$_po_current" == true || "$_po_current" == false ]]; then _po_is_bool=true; fi
      if [[ "$_po_has_value" == false ]]; then
        if [[ $# -ge 2 && ( "$_po_is_bool" == false || "$2" != --* ) ]]; then
          _po_value="$2"
          shift
        elif [[ "$_po_is_bool" == true ]]; then
          _po_value=true
        else
          echo "Error: option '--$_po_key' needs a value: --$_po_key VALUE (${_po_helps[$_po_i]})" >&2
          exit 1
        fi
      fi
      if [[ "$_po_is_bool" == true && "$_po_value" != true && "$_po_value" != false ]]; then
        echo "Error: option '--$_po_key' takes true or false, got '$_po_value'." >&2
        exit 1
      fi
      printf -v "$_po_name" '%s' "$_po_value"
      shift
      ;;
    *)
      echo "Error: unexpected argument '$_po_arg' for ${_po_file##*/}: options are --name value." >&2
      echo "Valid options: $(_po_valid_list)" >&2
      exit 1
      ;;
  esac
done

OPTION_SUMMARY=()
for _po_name in "${_po_names[@]}"; do
  printf -v _po_value '%q' "${!_po_name-}"
  OPTION_SUMMARY+=("--${_po_name//_/-} ${_po_value}")
done

unset -f _po_index _po_valid_list _po_help
unset _po_file _po_line _po_arg _po_key _po_value _po_has_value _po_name _po_i _po_current _po_old _po_new \
  _po_is_bool _po_names _po_helps
