"""Run a repository bash driver (prepare.sh, run.sh, egs/*/…) the way a user does, for recipe tests."""
from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_script_ok(script, cwd, *args) -> subprocess.CompletedProcess:
    """``bash REPO/script args`` in ``cwd``; fails the test with the tail of its output unless it exits 0."""
    r = subprocess.run(["bash", str(REPO / script), *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return r
