"""Idempotent stages: a rerun with the same parameters skips and a change redoes. (A stage killed with
SIGKILL at an exact point reruns to the same outputs: tests/robustness/test_robust_prepare_faults.py.)"""
from __future__ import annotations

import gzip
import logging

from corpus_builders import write

from valle.bin.prepare_manifests import main as prepare_main


def stage1(corpus, out, *extra):
    return prepare_main(["--stage", "1", "--corpus-dir", str(corpus), "--output-dir", str(out), *extra])


def test_stage1_skips_when_current_and_redoes_on_change(mixed_corpus, tmp_path, caplog, make_speech):
    caplog.set_level(logging.INFO)  # whatever an earlier test in this worker left the loggers at
    caplog.set_level(logging.INFO, logger="valle")
    out = tmp_path / "m"
    assert stage1(mixed_corpus, out) == 0
    sups = out / "custom_supervisions_all.jsonl.gz"
    mtime = sups.stat().st_mtime_ns
    caplog.clear()
    assert stage1(mixed_corpus, out) == 0
    stamp_log = logging.getLogger("valle.utils.stage_stamp")
    assert "up to date" in caplog.text, (stamp_log.getEffectiveLevel(), stamp_log.disabled, logging.getLogger().handlers)
    assert sups.stat().st_mtime_ns == mtime
    caplog.clear()
    # a changed option redoes the work
    assert stage1(mixed_corpus, out, "--speaker", "zoe") == 0
    assert "up to date" not in caplog.text
    assert b'"zoe"' in gzip.decompress(sups.read_bytes())
    # a new input file redoes the work
    write(mixed_corpus / "anna" / "orphan.txt", "Nobody wrote down what I said.")
    assert stage1(mixed_corpus, out, "--speaker", "zoe") == 0
    assert b"orphan" in gzip.decompress(sups.read_bytes())
    # a deleted output redoes the work
    sups.unlink()
    assert stage1(mixed_corpus, out, "--speaker", "zoe") == 0 and sups.exists()
