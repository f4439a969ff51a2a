"""Stage stamps: how a stage knows its outputs were made with these parameters and can be skipped.

Every stage (prepare.sh stages 1-4, stage 3's codes folders, evaluation's test list) keeps one
stamp per unit of work, named ``.<name>.stamp.json`` in the folder of the outputs it vouches for
(``.stage1_<prefix>``, ``.stage2_<prefix>``, ``.stage3_<prefix>_<part>``, ``.stage4_<prefix>``,
``.chunks`` in a codes folder, ``.testlist_<list>``). It holds::

    {"params": <what the outputs depend on: options, input fingerprints, a format version>,
     "outputs": {<file name>: <sha1>}}   # only the outputs another run may replace (stage 2's shared table)

The protocol, the same in every stage:

1. ``stamp.stale_reason(params, outputs)`` is "" when the stamp records exactly ``params``,
   every output exists and every digested output is unchanged: the stage skips and says so.
   Otherwise it names why (no stamp, parameters changed, an output missing or replaced).
2. Before rewriting anything the stage calls ``stamp.clear()``, so a run killed half-way can
   never leave a stamp vouching for half-written outputs. ``stamp.up_to_date(...)`` does 1 and 2
   and logs either way, for the caller's file and line.
3. After its last output is in place it calls ``stamp.write(params, digested)`` (atomically).

So a rerun with the same parameters skips, one with different parameters redoes the work.

Stamps of earlier releases (``.stage1_<prefix>.params.json``, ``.<prefix>_text_tokens.params.json``,
``.<cuts file>.stamp.json``, a codes folder's ``params.json``, ``<list>.params.json``) are read:
passed as ``legacy``, one that records the same parameters counts as current and is replaced by
the new stamp (so upgrading never re-encodes a corpus); one that does not is removed by clear().
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

from valle.utils.atomic import atomic_write_text
from valle.utils.digest import file_digest

SUFFIX = ".stamp.json"
log = logging.getLogger(__name__)


def fingerprint_files(paths: Iterable[Path]) -> str:
    """A hash over (path, size, mtime_ns) of ``paths``: cheap even for 100k input files."""
    h = hashlib.sha256()
    for p in sorted(str(p) for p in paths):
        st = Path(p).stat()
        h.update(f"{p}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _plain(params: Mapping) -> dict:
    """``params`` as JSON reads them back (paths and other objects as strings)."""
    return json.loads(json.dumps(params, sort_keys=True, default=str))


def _read(path: Path) -> Optional[dict]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


class StageStamp:
    """The stamp ``<directory>/.<name>.stamp.json``; ``legacy``: earlier releases' stamp files for it."""

    def __init__(self, directory: Path, name: str, legacy: Sequence[Path] = ()):
        self.path = Path(directory) / f".{name}{SUFFIX}"
        self.legacy = [Path(p) for p in legacy]

    def _record(self, params: Mapping, digested: Iterable[Path]) -> dict:
        return {"params": _plain(params), "outputs": {p.name: file_digest(p, "sha1") for p in map(Path, digested)}}

    def stale_reason(self, params: Mapping, outputs: Iterable[Path] = (), digested: Iterable[Path] = ()) -> str:
        """"" when the outputs are current for ``params``, else why not (for the log line).

        ``outputs``: files that must exist; ``digested``: outputs (also required) whose content must
        still be what this stage wrote, because another corpus's run may replace them."""
        digested = [Path(p) for p in digested]
        missing = [str(p) for p in [*map(Path, outputs), *digested] if not p.exists()]
        recorded, source = _read(self.path), self.path
        for old in self.legacy:
            if recorded is None:
                recorded, source = _read(old), old
        if recorded is None:
            return "no stamp from an earlier complete run"
        if missing:
            return f"output {missing[0]} is missing"
        wanted = self._record(params, digested)
        legacy_ok = source != self.path and recorded == wanted["params"]  # bare params under an old name
        # a stamp of a release that did not yet digest these outputs: the same params, none of the digests
        undigested = recorded.get("params") == wanted["params"] and not recorded.get("outputs")
        if recorded != wanted and not (legacy_ok or undigested):
            if recorded.get("params", recorded) == wanted["params"]:
                return "an output changed since (another corpus's run replaced it?)"
            return "parameters or inputs changed"
        if source != self.path or recorded != wanted:  # an earlier release's current stamp: rewritten in this form
            self.write(params, digested)
        return ""

    def up_to_date(self, params: Mapping, outputs: Iterable[Path] = (), digested: Iterable[Path] = (),
                   what: str = "outputs", force: bool = False) -> bool:
        """True (logged: skipping) when ``what`` is current for ``params``; otherwise logs why, clears
        the stamp and returns False: the caller redoes the work and ends with ``write``."""
        why = "--force" if force else self.stale_reason(params, outputs, digested)
        if not why:
            log.info("%s: up to date for these parameters and inputs; skipping (delete %s to force)", what,
                     self.path, stacklevel=2)
            return True
        log.info("%s: writing (%s)", what, why, stacklevel=2)
        self.clear()
        return False

    def clear(self) -> None:
        """Remove the stamp (and legacy ones) before rewriting outputs: a kill then leaves no stale stamp."""
        for p in [self.path, *self.legacy]:
            p.unlink(missing_ok=True)

    def write(self, params: Mapping, digested: Iterable[Path] = ()) -> None:
        """Record that the outputs, all in place now, were made with ``params``."""
        atomic_write_text(self.path, json.dumps(self._record(params, digested), indent=1, sort_keys=True) + "\n")
        for p in self.legacy:
            p.unlink(missing_ok=True)
