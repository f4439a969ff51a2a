"""Parameter stamps: how a stage knows its outputs are current and can be skipped.

A stage writes ``<name>.params.json`` (atomically, after all of its outputs) holding its
parameters and a fingerprint of its inputs (path, size, mtime of each file). Rerunning with the
same stamp and all outputs present skips the work; any change (an option, an added or edited
input file, a deleted output) redoes it. A stage killed before it wrote the stamp simply reruns.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Mapping

from valle.utils.atomic import atomic_write_text


def fingerprint_files(paths: Iterable[Path]) -> str:
    """A hash over (path, size, mtime_ns) of ``paths``; cheap even for 100k files."""
    h = hashlib.sha256()
    for p in sorted(str(p) for p in paths):
        st = Path(p).stat()
        h.update(f"{p}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _canonical(params: Mapping) -> str:
    return json.dumps(params, sort_keys=True, indent=1, default=str)


def is_up_to_date(stamp: Path, params: Mapping, outputs: Iterable[Path]) -> bool:
    """True if ``stamp`` records exactly ``params`` and every output exists."""
    stamp = Path(stamp)
    if not stamp.is_file():
        return False
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if recorded != json.loads(_canonical(params)):
        return False
    return all(Path(o).exists() for o in outputs)


def write_stamp(stamp: Path, params: Mapping) -> None:
    atomic_write_text(stamp, _canonical(params) + "\n")


def remove_stamp(stamp: Path) -> None:
    """Called before a stage starts rewriting outputs, so a kill can never leave a stale stamp."""
    Path(stamp).unlink(missing_ok=True)
