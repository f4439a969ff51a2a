"""Stage 1 validation: every input audio file is either in the manifests or in rejects.tsv."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from corpus_builders import sox, truncate, write
from lhotse import load_manifest

from valle.bin.prepare_manifests import main as prepare_main
from valle.data.corpora import REJECT_REASONS, prepare_custom
from valle.data.corpora.rejects import read_rejects


def test_acceptance_mixed_folder(mixed_corpus, tmp_path, capsys):
    out = tmp_path / "m"
    rc = prepare_main(["--stage", "1", "--corpus-dir", str(mixed_corpus), "--output-dir", str(out), "--nj", "2"])
    assert rc == 0
    sups = load_manifest(out / "custom_supervisions_all.jsonl.gz")
    assert sorted(s.id for s in sups) == ["anna_sixteen", "anna_stereo"]
    lines = (out / "rejects.tsv").read_text().splitlines()
    assert lines[0] == "path\treason\tdetail"
    got = {r.path.split("/")[-1]: r.reason for r in read_rejects(out / "rejects.tsv")}
    assert got == {"empty.wav": "empty_transcript", "truncated.wav": "corrupt_audio", "orphan.wav": "missing_transcript"}
    printed = capsys.readouterr().out
    assert "kept 2 utterances, rejected 3 files" in printed
    for reason in got.values():
        assert reason in printed


@pytest.fixture
def every_reason(tmp_path, make_speech):
    """One file per stage-1 rejection reason (pairs layout) plus one good file."""
    d = tmp_path / "corpus" / "spk"
    make_speech("A perfectly good sentence.", d / "good.wav")
    write(d / "good.txt", "A perfectly good sentence.")
    (d / "junk.wav").write_bytes(np.random.default_rng(0).bytes(3000))
    write(d / "junk.txt", "noise")
    sf.write(str(d / "zero.wav"), np.zeros((0,), dtype="float32"), 16000)
    write(d / "zero.txt", "nothing")
    sox("-n", "-r", "16000", "-c", "1", d / "short.wav", "synth", "0.2", "sine", "300")
    write(d / "short.txt", "hi")
    sox("-n", "-r", "8000", "-c", "1", d / "long.wav", "synth", "21", "sine", "300")
    write(d / "long.txt", "a very long hum")
    full = make_speech("Cut short.", tmp_path / "full.wav")
    (d / "cut.wav").write_bytes(full.read_bytes()[:-4000])
    write(d / "cut.txt", "Cut short.")
    make_speech("No words for me.", d / "lonely.flac")
    make_speech("Say nothing.", d / "blank.wav")
    write(d / "blank.lab", "")
    make_speech("The same id twice.", d / "twice.mp3")
    subprocess.run(["sox", str(d / "twice.mp3"), str(d / "twice.wav")], check=True)
    write(d / "twice.txt", "The same id twice.")
    return tmp_path / "corpus"


def test_each_rejection_reason(every_reason, tmp_path):
    out = prepare_custom(every_reason, tmp_path / "m", num_jobs=1)["all"]
    assert [s.id for s in out["supervisions"]] == ["spk_good", "spk_twice"]
    rejects = {r.path.split("/")[-1]: r for r in read_rejects(tmp_path / "m" / "rejects.tsv")}
    assert {k: r.reason for k, r in rejects.items()} == {
        "junk.wav": "unreadable_audio",
        "zero.wav": "zero_duration",
        "short.wav": "too_short",
        "long.wav": "too_long",
        "cut.wav": "corrupt_audio",
        "lonely.flac": "missing_transcript",
        "blank.wav": "empty_transcript",
        "twice.wav": "duplicate_id",  # twice.mp3 sorts first and keeps the id
    }
    assert "--filter-max-duration 22" in rejects["long.wav"].detail
    assert "twice.mp3" in rejects["twice.wav"].detail
    # every input audio file is accounted for exactly once
    audio = {p.name for p in every_reason.rglob("*") if p.suffix in (".wav", ".flac", ".mp3")}
    kept = {"good.wav", "twice.mp3"}
    assert kept | set(rejects) == audio and not kept & set(rejects)
    assert set(r.reason for r in rejects.values()) <= set(REJECT_REASONS)


def test_raising_limits_keeps_the_long_file(every_reason, tmp_path):
    out = prepare_custom(every_reason, tmp_path / "m", min_duration=0.1, max_duration=30)["all"]
    assert {"spk_long", "spk_short"} <= {s.id for s in out["supervisions"]}


def test_stage1_limits_are_the_filter_duration_options(every_reason, tmp_path, capsys):
    """Stage 1 takes valle.bin.train's names for the utterance limits; the old --max-duration (which
    also means seconds per batch in training) is refused with one line naming the new option."""
    out = tmp_path / "m"
    assert prepare_main(["--stage", "1", "--corpus-dir", str(every_reason), "--output-dir", str(out),
                         "--filter-min-duration", "0.1", "--filter-max-duration", "30"]) == 0
    rejected = {r.path.split("/")[-1] for r in read_rejects(out / "rejects.tsv")}
    assert "long.wav" not in rejected and "short.wav" not in rejected and "junk.wav" in rejected
    for old, new in (("--max-duration", "--filter-max-duration"), ("--min-duration", "--filter-min-duration")):
        with pytest.raises(SystemExit) as e:
            prepare_main(["--stage", "1", "--corpus-dir", str(every_reason), "--output-dir", str(tmp_path / "x"), old, "30"])
        err = capsys.readouterr().err.splitlines()
        assert e.value.code == 2 and len(err) == 1 and f"error: {old} was renamed: use {new} (" in err[0]
    assert not (tmp_path / "x").exists()


def test_parallel_jobs_give_the_same_manifests(every_reason, tmp_path):
    a = prepare_custom(every_reason, tmp_path / "a", num_jobs=1)["all"]
    b = prepare_custom(every_reason, tmp_path / "b", num_jobs=2)["all"]
    assert a["recordings"] == b["recordings"] and a["supervisions"] == b["supervisions"]
    assert (tmp_path / "a" / "rejects.tsv").read_text() == (tmp_path / "b" / "rejects.tsv").read_text()


def test_nothing_usable_fails_with_a_clear_message(tmp_path):
    d = tmp_path / "bad" / "spk"
    d.mkdir(parents=True)
    (d / "junk.wav").write_bytes(b"RIFF1234WAVEfmt nonsense")
    write(d / "junk.txt", "noise")
    with pytest.raises(SystemExit) as e:
        prepare_main(["--stage", "1", "--corpus-dir", str(tmp_path / "bad"), "--output-dir", str(tmp_path / "m")])
    err = str(e.value.code)
    assert "no usable utterance" in err and "rejects.tsv" in err
    assert [r.reason for r in read_rejects(tmp_path / "m" / "rejects.tsv")] == ["unreadable_audio"]
    assert not (tmp_path / "m" / "custom_supervisions_all.jsonl.gz").exists()


def test_too_long_after_trimming_and_from_header(every_reason, tmp_path):
    # with --trim-silence the 21 s hum is decoded (trimming might shorten it) and still too long
    prepare_custom(every_reason, tmp_path / "a", trim_silence=True)
    got = {r.path.split("/")[-1]: r for r in read_rejects(tmp_path / "a" / "rejects.tsv")}
    assert got["long.wav"].reason == "too_long" and "--filter-max-duration 22" in got["long.wav"].detail
    # a lower limit catches the ordinary sentence too (without trimming, test_each_rejection_reason
    # covers the header-only path: 21 s > 20 s is rejected before decoding)
    prepare_custom(every_reason, tmp_path / "b", trim_silence=True, max_duration=1.0, min_duration=0.1)
    got = {r.path.split("/")[-1]: r.reason for r in read_rejects(tmp_path / "b" / "rejects.tsv")}
    assert got["long.wav"] == "too_long" and got["good.wav"] == "too_long"


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_libritts_unreadable_and_truncated_wavs_are_rejects(libritts_tree, tmp_path, make_speech, monkeypatch, relative):
    """A wav that cannot be opened is a reject and the rest of the part is kept; a truncated wav,
    which would read short, is one too; a dangling link is unreadable. Relative
    --corpus-dir/--output-dir (prepare.sh's default) work the same, and the manifests name the
    corpus files by absolute path."""
    chapter = libritts_tree / "dev-clean" / "100" / "2000"
    junk = chapter / "100_2000_000002_000000.wav"
    junk.write_bytes(np.random.default_rng(1).bytes(3000))
    full = make_speech("This file was cut off in the middle of a copy.", tmp_path / "_full.wav", rate=24000)
    cut_off = truncate(full, chapter / "100_2000_000003_000000.wav")
    dangling = chapter / "100_2000_000004_000000.wav"
    dangling.symlink_to(tmp_path / "gone.wav")
    with open(chapter / "100_2000.trans.tsv", "a") as f:
        for utt, text in ((junk, "Noise."), (cut_off, "Cut off."), (dangling, "Gone.")):
            f.write(f"{utt.stem}\t{text}\t{text}\n")
    corpus, out = libritts_tree, tmp_path / "m"
    if relative:
        monkeypatch.chdir(tmp_path)
        corpus, out = libritts_tree.relative_to(tmp_path), Path("m")
    rc = prepare_main(["--stage", "1", "--corpus", "libritts", "--corpus-dir", str(corpus),
                       "--parts", "dev-clean train-clean-100", "--output-dir", str(out), "--nj", "2"])
    assert rc == 0
    rejects = {r.path: r for r in read_rejects(out / "rejects.tsv")}
    corpus_chapter = corpus / "dev-clean" / "100" / "2000"
    assert {p: r.reason for p, r in rejects.items()} == {
        str(corpus_chapter / junk.name): "unreadable_audio",
        str(corpus_chapter / cut_off.name): "corrupt_audio",
        str(corpus_chapter / dangling.name): "unreadable_audio",
    }
    assert rejects[str(corpus_chapter / junk.name)].detail.startswith("cannot open it: Error opening")
    recs = load_manifest(out / "libritts_recordings_dev-clean.jsonl.gz")
    assert sorted(r.id for r in recs) == ["100_2000_000000_000000", "100_2000_000001_000000"]
    for r in recs:  # sources name the corpus files, absolute
        assert r.sources[0].source == str((corpus_chapter / f"{r.id}.wav").resolve())
        assert r.load_audio().shape[1] == r.num_samples
    sups = load_manifest(out / "libritts_supervisions_dev-clean.jsonl.gz")
    assert sorted(s.id for s in sups) == ["100_2000_000000_000000", "100_2000_000001_000000"]
    assert len(load_manifest(out / "libritts_supervisions_train-clean-100.jsonl.gz")) == 2
