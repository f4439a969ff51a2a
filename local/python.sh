# shellcheck shell=bash
# Which Python the stage drivers run: $PYTHON if set, else the project's .venv (made by
# `make setup`), else python3 from PATH. Expects $root (the repository) to be set; sets $python.
# shellcheck disable=SC2154  # root is set by the sourcing driver
if [[ -n "${PYTHON:-}" ]]; then
  python="$PYTHON"
elif [[ -x "$root/.venv/bin/python" ]]; then
  python="$root/.venv/bin/python"
else
  python=python3
fi
export python
