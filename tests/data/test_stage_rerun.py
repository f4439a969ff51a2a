"""Idempotent stages: a rerun with the same parameters skips, a change redoes, and a stage
killed with SIGKILL reruns to the same outputs as an uninterrupted run."""
from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time

from corpus_builders import write

from valle.bin.prepare_manifests import main as prepare_main


def stage1(corpus, out, *extra):
    return prepare_main(["--stage", "1", "--corpus-dir", str(corpus), "--output-dir", str(out), *extra])


def contents(d):
    """Decompressed manifests and rejects of a stage-1 output folder."""
    return {p.name: (gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes())
            for p in sorted(d.iterdir()) if not p.name.startswith(".")}


def test_stage1_skips_when_current_and_redoes_on_change(mixed_corpus, tmp_path, caplog, make_speech):
    out = tmp_path / "m"
    assert stage1(mixed_corpus, out) == 0
    sups = out / "custom_supervisions_all.jsonl.gz"
    mtime = sups.stat().st_mtime_ns
    caplog.clear()
    assert stage1(mixed_corpus, out) == 0
    assert "up to date" in caplog.text and sups.stat().st_mtime_ns == mtime
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


def test_stage1_sigkill_then_rerun_gives_identical_outputs(tmp_path, espeak_wav):
    src = espeak_wav("Killing a stage half way must not matter.", tmp_path / "src.wav")
    corpus = tmp_path / "corpus" / "spk"
    corpus.mkdir(parents=True)
    for i in range(150):
        os.link(src, corpus / f"u{i:03d}.wav")
        write(corpus / f"u{i:03d}.txt", f"Utterance number {i}.")
    ref, out = tmp_path / "ref", tmp_path / "out"
    assert stage1(corpus.parent, ref) == 0

    cmd = [sys.executable, "-m", "valle.bin.prepare_manifests", "--stage", "1", "--corpus-dir", str(corpus.parent),
           "--output-dir", str(out)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # wait until the stage is at work, then kill it without warning
        if "probing" in line:
            break
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # nothing half-written carries a final name, and no stamp claims the work is done
    assert not (out / ".stage1_custom.stamp.json").exists()
    for p in out.glob("*.jsonl.gz") if out.exists() else []:
        gzip.decompress(p.read_bytes())
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "up to date" not in r.stderr
    assert contents(out) == contents(ref)
    assert not list(out.glob(".tmp-*"))  # the rerun cleans temporary files left by the kill


def test_stage4_sigkill_while_writing_then_rerun(tmp_path, ljspeech_copy):
    from lhotse import CutSet

    from valle.data.corpora import prepare_custom

    m = prepare_custom(ljspeech_copy, tmp_path / "data" / "manifests")["all"]
    base = list(CutSet.from_manifests(m["recordings"], m["supervisions"]))
    many = CutSet.from_cuts(base[i % 2].with_id(f"c{i:05d}") for i in range(2000))
    tok = tmp_path / "data" / "tokenized"
    tok.mkdir()
    many.to_file(tok / "custom_cuts_all.jsonl.gz")
    ref = tmp_path / "ref"
    ref.mkdir()
    os.link(tok / "custom_cuts_all.jsonl.gz", ref / "custom_cuts_all.jsonl.gz")
    args = ["--manifests-dir", str(tmp_path / "data" / "manifests"), "--dev-size", "0.1", "--test-size", "100"]
    from valle.bin.split_and_report import main as split_main

    assert split_main(["--tokenized-dir", str(ref)] + args) == 0

    cmd = [sys.executable, "-m", "valle.bin.split_and_report", "--tokenized-dir", str(tok)] + args
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_mid_write = False
    while proc.poll() is None:  # kill as soon as a split file is being written
        if list(tok.glob(".tmp-*cuts_train*")):
            proc.send_signal(signal.SIGKILL)
            killed_mid_write = True
            break
        time.sleep(0.005)
    proc.wait()
    print("killed while writing:", killed_mid_write)
    if killed_mid_write:
        assert not (tok / "cuts_train.jsonl.gz").exists() and not (tok / ".stage4_custom.stamp.json").exists()
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert not list(tok.glob(".tmp-*"))  # the rerun cleans what the kill left
    for split in ("train", "dev", "test"):
        assert (tok / f"cuts_{split}.jsonl.gz").read_bytes() == (ref / f"cuts_{split}.jsonl.gz").read_bytes()
    assert (tok / "report" / "report.txt").read_text().replace(str(tok), "") == \
        (ref / "report" / "report.txt").read_text().replace(str(ref), "")
