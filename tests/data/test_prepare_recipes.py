"""End to end: egs/custom/prepare.sh and egs/libritts/prepare.sh, stages 0/1-4, real components
(lhotse, espeak-ng phonemes, the Encodec architecture with --codec encodec:random)."""
from __future__ import annotations

import subprocess

from lhotse import load_manifest

from valle.data.corpora.rejects import read_rejects


def prepare(repo, recipe, cwd, *args):
    r = subprocess.run(["bash", str(repo / "egs" / recipe / "prepare.sh"), *map(str, args)],
                       cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def all_split_cuts(tok):
    return {s: list(load_manifest(tok / f"cuts_{s}.jsonl.gz")) for s in ("train", "dev", "test")}


def check_codes(cut):
    codes = cut.load_features()
    assert codes.shape[1] == 8
    assert abs(codes.shape[0] - round(cut.duration * 75)) <= 1, (cut.id, codes.shape, cut.duration)
    assert codes.min() >= 0 and codes.max() < 1024
    return codes


def test_custom_ljspeech_mini_stages_0_to_4_and_rerun_skips(repo, ljspeech_copy, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    prepare(repo, "custom", work, "--corpus-dir", ljspeech_copy, "--codec", "encodec:random", "--stage", "0", "--stop-stage", "4")
    tok = work / "data" / "tokenized"  # --data-dir defaults to ./data of the caller's cwd
    splits = all_split_cuts(tok)
    cuts = [c for s in splits.values() for c in s]
    assert sorted(c.id for c in cuts) == ["LJ002-0020", "LJ002-0035"]
    assert len(splits["train"]) >= 1
    for cut in cuts:
        check_codes(cut)
        assert cut.supervisions[0].custom["text_tokens"]
    report = (tok / "report" / "report.txt").read_text()
    assert "ljspeech-mini" in report and "symbols" in report
    # cuts load from any cwd (prepare.sh hands absolute paths to the stages)
    assert str(work / "data") in str(cuts[0].features.storage_path)
    again = prepare(repo, "custom", work, "--corpus-dir", ljspeech_copy, "--codec", "encodec:random", "--stage", "4")
    assert f"stage 4: splits and report in {tok}: up to date for these parameters and inputs; skipping" in again.stderr


def test_mixed_formats_folder(repo, mixed_corpus, tmp_path):
    data = tmp_path / "out"
    prepare(repo, "custom", tmp_path, "--corpus-dir", mixed_corpus, "--data-dir", data, "--codec", "encodec:random",
            "--nj", "1", "--dev-size", "0", "--test-size", "0", "--trim-silence", "true")
    train = list(load_manifest(data / "tokenized" / "cuts_train.jsonl.gz"))
    assert sorted(c.id for c in train) == ["anna_sixteen", "anna_stereo"]
    for cut in train:
        check_codes(cut)  # codes follow the trimmed span, not the whole file
        assert cut.sampling_rate == 24000
        assert cut.start + cut.duration <= cut.recording.duration + 1e-6
    reasons = {r.path.split("/")[-1]: r.reason for r in read_rejects(data / "manifests" / "rejects.tsv")}
    assert reasons == {"empty.wav": "empty_transcript", "truncated.wav": "corrupt_audio", "orphan.wav": "missing_transcript"}
    report = (data / "tokenized" / "report" / "report.txt").read_text()
    for reason in reasons.values():
        assert reason in report


def test_libritts_tree_stages_1_to_4(repo, libritts_tree, tmp_path):
    data = tmp_path / "out"
    prepare(repo, "libritts", repo, "--dl-dir", libritts_tree.parent, "--parts", "dev-clean train-clean-100",
            "--stage", "1", "--stop-stage", "4", "--data-dir", data, "--codec", "encodec:random", "--nj", "1")
    assert sorted((data / "manifests").glob("libritts_supervisions_*.jsonl.gz")) == [
        data / "manifests" / "libritts_supervisions_dev-clean.jsonl.gz",
        data / "manifests" / "libritts_supervisions_train-clean-100.jsonl.gz",
    ]
    splits = all_split_cuts(data / "tokenized")
    assert [c.id for c in splits["train"]] == \
        ["101_2001_000000_000000", "101_2001_000001_000000"]
    assert [c.id for c in splits["dev"]] == ["100_2000_000000_000000", "100_2000_000001_000000"]
    assert splits["test"] == []
    for cut in splits["train"] + splits["dev"]:
        check_codes(cut)
        assert cut.supervisions[0].speaker in ("100", "101")
    assert "test-clean" in (data / "tokenized" / "report" / "report.txt").read_text()
