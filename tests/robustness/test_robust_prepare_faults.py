"""Prepare-stage faults: SIGKILL inside each stage, a full disk, a read-only output folder.

Kills land at exact points (just before an output is committed, see fault_runner.py); after a
kill or a write error nothing half-written carries a final name, no stamp claims the stage is
done, and a rerun ends with the outputs of the uninterrupted session run (``prepared``).
"""
from __future__ import annotations

import gzip
import json
import os

import numpy as np

from robust_helpers import assert_killed, copy_tree, espeak, leftovers, read_jsonl_gz, run_module
from valle.bin.prepare_manifests import main as prepare_main
from valle.bin.split_and_report import main as split_main
from valle.bin.tokenize_audio import main as audio_main
from valle.bin.tokenize_text import main as text_main


def _stage1_args(run, out):
    return ["--stage", "1", "--corpus", "custom", "--corpus-dir", str(run.corpus), "--output-dir", str(out)]


def _stage2_args(manifests, tokenized):
    return ["--manifests-dir", str(manifests), "--output-dir", str(tokenized), "--prefix", "custom"]


def _stage3_args(manifests, tokenized, *extra):
    return ["--manifests-dir", str(manifests), "--tokenized-dir", str(tokenized), "--prefix", "custom",
            "--codec", "encodec:random", "--nj", "1", "--no-progress", *extra]


def _stage4_args(manifests, tokenized):
    return ["--tokenized-dir", str(tokenized), "--manifests-dir", str(manifests), "--prefix", "custom",
            "--dev-size", "1", "--test-size", "1"]


def _gz(path):
    return gzip.decompress(path.read_bytes())


def _stage2_inputs(run, dst):
    """A data dir holding the session's stage-1 output only."""
    copy_tree(run.manifests, dst / "manifests")
    return dst / "manifests", dst / "tokenized"


def _stage3_inputs(run, dst, keep: int = 0):
    """A data dir holding the session's stage-1 and stage-2 outputs only (the first ``keep``
    tokenized supervisions if given: stage-3 tests then encode less)."""
    from lhotse import SupervisionSet

    manifests, tokenized = _stage2_inputs(run, dst)
    tokenized.mkdir()
    for name in ("custom_supervisions_all.jsonl.gz", "unique_text_tokens.k2symbols", "text_rejects.tsv",
                 "text_tokens_report.json"):
        (tokenized / name).write_bytes((run.tokenized / name).read_bytes())
    if keep:
        sups = SupervisionSet.from_file(tokenized / "custom_supervisions_all.jsonl.gz")
        SupervisionSet.from_segments(list(sups)[:keep]).to_file(tokenized / "custom_supervisions_all.jsonl.gz")
    return manifests, tokenized


def _same_cuts(got_path, ref_path):
    """Equal cuts (ids, spans, supervisions, tokens) with equal codes; archive paths may differ."""
    from lhotse import CutSet

    got, ref = CutSet.from_file(got_path), CutSet.from_file(ref_path)
    assert len(got) >= 2 and set(got.ids) <= set(ref.ids)
    ignore = ("storage_path", "storage_key")
    ref_by_id = {c.id: c for c in ref}
    for cut in got:
        other = ref_by_id[cut.id]
        a, b = cut.to_dict(), other.to_dict()
        for d in (a, b):
            d["features"] = {k: v for k, v in d["features"].items() if k not in ignore}
        assert a == b, cut.id
        np.testing.assert_array_equal(cut.load_features(), other.load_features())


def test_sigkill_in_stage1_then_rerun_matches(prepared, tmp_path):
    out = tmp_path / "manifests"
    proc = run_module("valle.bin.prepare_manifests", _stage1_args(prepared, out), kill_before_commit=2)
    assert_killed(proc)
    assert (out / "rejects.tsv").is_file() and not (out / "custom_recordings_all.jsonl.gz").exists()
    assert not list(out.glob(".stage1_*.stamp.json")), "a killed stage must not look finished"
    assert leftovers(out), "the kill left the temporary file of the interrupted write"
    assert prepare_main(_stage1_args(prepared, out)) == 0
    assert not leftovers(out)
    for name in ("custom_recordings_all.jsonl.gz", "custom_supervisions_all.jsonl.gz"):
        assert _gz(out / name) == _gz(prepared.manifests / name)
    assert (out / "rejects.tsv").read_text() == (prepared.manifests / "rejects.tsv").read_text()


def test_sigkill_in_stage2_then_rerun_matches(prepared, tmp_path):
    manifests, tokenized = _stage2_inputs(prepared, tmp_path)
    proc = run_module("valle.bin.tokenize_text", _stage2_args(manifests, tokenized), kill_before_commit=2)
    assert_killed(proc)
    assert not (tokenized / ".stage2_custom.stamp.json").exists()
    assert not (tokenized / "unique_text_tokens.k2symbols").exists()
    assert text_main(_stage2_args(manifests, tokenized)) == 0
    assert read_jsonl_gz(tokenized / "custom_supervisions_all.jsonl.gz") == \
        read_jsonl_gz(prepared.tokenized / "custom_supervisions_all.jsonl.gz")
    for name in ("unique_text_tokens.k2symbols", "text_rejects.tsv", "text_tokens_report.json"):
        assert (tokenized / name).read_text() == (prepared.tokenized / name).read_text(), name
    assert not leftovers(tokenized), "the rerun removes the killed run's temporary file"


def test_sigkill_in_stage3_keeps_finished_chunks_and_rerun_matches(prepared, tmp_path, caplog):
    manifests, tokenized = _stage3_inputs(prepared, tmp_path, keep=6)
    args = _stage3_args(manifests, tokenized, "--chunk-size", "2")
    # chunk commits: archive 0, cuts 0, then kill before archive 1
    proc = run_module("valle.bin.tokenize_audio", args, kill_before_commit=3, match=r"^(codes|cuts)-\d+")
    assert_killed(proc)
    chunks = tokenized / "codes" / "custom_all"
    done = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in chunks.glob("*-00000.*")}
    assert sorted(done) == ["codes-00000.h5", "cuts-00000.jsonl.gz"]
    assert not (chunks / "cuts-00001.jsonl.gz").exists() and not (chunks / "codes-00001.h5").exists()
    assert not (tokenized / "custom_cuts_all.jsonl.gz").exists()
    caplog.set_level("INFO")
    assert audio_main(args) == 0
    assert "1 chunks already done (2 cuts)" in caplog.text
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in chunks.glob("*-00000.*")} == done, \
        "finished chunks are kept, not re-encoded"
    _same_cuts(tokenized / "custom_cuts_all.jsonl.gz", prepared.tokenized / "custom_cuts_all.jsonl.gz")
    assert not leftovers(tokenized), "the rerun removes the killed run's temporary archive"


def test_sigkill_in_stage4_then_rerun_matches(prepared, tmp_path):
    manifests, tokenized = _stage3_inputs(prepared, tmp_path)
    for name in ("custom_cuts_all.jsonl.gz", ".stage3_custom_all.stamp.json"):
        (tokenized / name).write_bytes((prepared.tokenized / name).read_bytes())
    proc = run_module("valle.bin.split_and_report", _stage4_args(manifests, tokenized), kill_before_commit=2)
    assert_killed(proc)
    assert not (tokenized / ".stage4_custom.stamp.json").exists()
    assert split_main(_stage4_args(manifests, tokenized)) == 0
    assert not leftovers(tokenized)
    for split in ("train", "dev", "test"):
        name = f"cuts_{split}.jsonl.gz"
        assert _gz(tokenized / name) == _gz(prepared.tokenized / name), name
    got = json.loads((tokenized / "report" / "report.json").read_text())
    ref = json.loads((prepared.tokenized / "report" / "report.json").read_text())
    assert got["splits"] == ref["splits"] and got["filtered"] == ref["filtered"]


def test_disk_full_in_stage1_stops_with_a_clear_error_and_rerun_matches(prepared, tmp_path):
    out = tmp_path / "manifests"
    # any file larger than 400 bytes fails with EFBIG: the first output (rejects.tsv) cannot be written
    proc = run_module("valle.bin.prepare_manifests", _stage1_args(prepared, out), max_file_bytes=400)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "File too large" in proc.stderr and str(out) in proc.stderr
    assert sorted(os.listdir(out)) == [], "nothing half-written, no stamp"
    assert prepare_main(_stage1_args(prepared, out)) == 0
    for name in ("custom_recordings_all.jsonl.gz", "custom_supervisions_all.jsonl.gz"):
        assert _gz(out / name) == _gz(prepared.manifests / name)


def test_disk_full_in_stage3_stops_with_a_clear_error_and_rerun_matches(prepared, tmp_path):
    manifests, tokenized = _stage3_inputs(prepared, tmp_path, keep=4)
    args = _stage3_args(manifests, tokenized, "--chunk-size", "4")
    # any file larger than 6 kB fails with EFBIG: the codes folder stamp fits, the first codes archive does not
    proc = run_module("valle.bin.tokenize_audio", args, max_file_bytes=6000)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "File too large" in proc.stderr and "codes-00000.h5" in proc.stderr
    assert not list((tokenized / "codes" / "custom_all").glob("codes-*.h5"))
    assert not list((tokenized / "codes" / "custom_all").glob("cuts-*.jsonl.gz"))
    assert not (tokenized / "custom_cuts_all.jsonl.gz").exists()
    assert not (tokenized / ".stage3_custom_all.stamp.json").exists()
    assert audio_main(args) == 0
    assert not leftovers(tokenized)
    _same_cuts(tokenized / "custom_cuts_all.jsonl.gz", prepared.tokenized / "custom_cuts_all.jsonl.gz")


def test_read_only_output_folder_fails_before_any_work(prepared, tmp_path):
    out = tmp_path / "read-only"
    out.mkdir()
    os.chmod(out, 0o555)
    try:
        proc = run_module("valle.bin.prepare_manifests", _stage1_args(prepared, out), as_unprivileged=True)
    finally:
        os.chmod(out, 0o755)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert str(out) in proc.stderr and "not writable" in proc.stderr
    assert "probing" not in proc.stderr, "the folder is checked before the audio is decoded"
    assert not os.listdir(out)


def test_a_transcript_that_cannot_be_read_rejects_its_recording_only(tmp_path):
    """A permission problem on one transcript (stage 1 as a user without root's file-permission override):
    that recording is listed as unreadable_transcript; the others are kept, and no error blames --output-dir."""
    from valle.data.corpora.rejects import read_rejects

    corpus = tmp_path / "corpus" / "anna"
    for i, text in enumerate(("The first sentence is fine.", "Nobody may read this one.")):
        espeak(text, corpus / f"u{i}.wav")
        (corpus / f"u{i}.txt").write_text(text)
    locked = corpus / "u1.txt"
    os.chmod(locked, 0)
    out = tmp_path / "manifests"
    try:
        proc = run_module("valle.bin.prepare_manifests", ["--stage", "1", "--corpus", "custom", "--corpus-dir",
                                                          str(corpus.parent), "--output-dir", str(out)],
                          as_unprivileged=True)
    finally:
        os.chmod(locked, 0o644)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rejects = read_rejects(out / "rejects.tsv")
    assert [(r.reason, os.path.basename(r.path)) for r in rejects] == [("unreadable_transcript", "u1.wav")]
    assert "u1.txt cannot be read" in rejects[0].detail and "Permission denied" in rejects[0].detail
    sups = read_jsonl_gz(out / "custom_supervisions_all.jsonl.gz")
    assert [s["text"] for s in sups] == ["The first sentence is fine."]

