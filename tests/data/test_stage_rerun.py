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


def test_stage4_of_another_prefix_in_the_same_folder_makes_the_first_redo(tmp_path, ljspeech_copy, caplog):
    """cuts_{train,dev,test} and report/ carry no prefix: after corpus B's stage 4 replaced them, rerunning
    corpus A's must redo its splits (their digests are in A's stamp), not call B's files A's and skip."""
    from lhotse import CutSet, load_manifest

    from valle.bin.split_and_report import main as split_main
    from valle.data.corpora import prepare_custom

    caplog.set_level(logging.INFO)
    m = prepare_custom(ljspeech_copy, tmp_path / "data" / "manifests")["all"]
    base = list(CutSet.from_manifests(m["recordings"], m["supervisions"]))
    tok = tmp_path / "data" / "tokenized"
    tok.mkdir()
    for prefix in ("a", "b"):
        CutSet.from_cuts(base[i % len(base)].with_id(f"{prefix}{i:03d}") for i in range(40)).to_file(
            tok / f"{prefix}_cuts_all.jsonl.gz")

    def stage4(prefix):
        caplog.clear()
        assert split_main(["--tokenized-dir", str(tok), "--manifests-dir", str(tmp_path / "data" / "manifests"),
                           "--prefix", prefix, "--dev-size", "4", "--test-size", "4"]) == 0
        return {c.id[0] for c in load_manifest(tok / "cuts_train.jsonl.gz")}

    assert stage4("a") == {"a"}
    assert stage4("a") == {"a"} and "up to date" in caplog.text
    assert stage4("b") == {"b"}
    assert stage4("a") == {"a"} and "up to date" not in caplog.text
