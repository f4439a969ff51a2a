"""prepare.sh and run.sh against options that select nothing and names that break line-based shell
parsing (issue 19): a stage range with no stage, --num-epochs 0, run.sh stage 3 with a tab and a
newline in the prompt audio's file name (real espeak-ng audio, nano checkpoint, random Encodec)."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from robust_helpers import REPO, espeak, python_env


def bash(script, *args, timeout=300):
    return subprocess.run(["bash", str(REPO / script), *map(str, args)], capture_output=True, text=True, cwd=REPO,
                          env=python_env(), timeout=timeout)


@pytest.mark.parametrize("script,extra", [("run.sh", ()), ("prepare.sh", ("--corpus-dir", "."))])
def test_stage_range_that_selects_nothing_is_refused(script, extra, tmp_path):
    proc = bash(script, "--stage", 5, "--stop-stage", 2, "--data-dir", tmp_path / "data", *extra)
    assert proc.returncode == 1
    assert "--stage 5 --stop-stage 2 selects no stage" in proc.stderr
    assert not (tmp_path / "data").exists()


def test_zero_epochs_is_refused_not_a_silent_success(tmp_path):
    proc = bash("run.sh", "--stage", 1, "--stop-stage", 1, "--num-epochs", 0, "--data-dir", tmp_path / "data",
                "--exp-dir", tmp_path / "exp")
    assert proc.returncode != 0
    assert "--num-epochs 0: must be >= 1" in proc.stderr
    assert not (tmp_path / "exp").exists()


def test_run_sh_stage3_with_tab_and_newline_in_audio_file_names(checkpoint, tmp_path):
    from lhotse import CutSet, MonoCut, Recording, SupervisionSegment

    cuts = []
    # short texts: the untrained AR runs to the length guard, which grows with the text
    for i, (name, text) in enumerate([("tab\there", "Hi there."), ("new\nline", "Hi there.")]):
        wav = espeak(text, tmp_path / "audio" / f"{name}.wav")
        rec = Recording.from_file(str(wav), recording_id=f"utt{i}")
        sup = SupervisionSegment(id=f"utt{i}", recording_id=f"utt{i}", start=0, duration=rec.duration, text=text,
                                 language="en-us")
        cuts.append(MonoCut(id=f"utt{i}", start=0, duration=rec.duration, channel=0, recording=rec,
                            supervisions=[sup]))
    tokenized = tmp_path / "data" / "tokenized"
    tokenized.mkdir(parents=True)
    CutSet.from_cuts(cuts).to_file(tokenized / "cuts_dev.jsonl.gz")
    exp = tmp_path / "exp"
    exp.mkdir()
    shutil.copy(checkpoint, exp / "best-valid-loss.pt")
    proc = bash("run.sh", "--stage", 3, "--stop-stage", 3, "--data-dir", tmp_path / "data", "--exp-dir", exp,
                "--num-samples", 2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sidecars = sorted((exp / "samples").glob("*.json"))
    assert [p.name for p in sidecars] == ["sample1_utt1.json", "sample2_utt0.json"]
    meta = [json.loads(p.read_text()) for p in sidecars]
    assert [m["prompt_audio"] for m in meta] == [str(tmp_path / "audio" / "tab\there.wav"),
                                                 str(tmp_path / "audio" / "new\nline.wav")]
    assert [(m["text"], m["prompt_text"]) for m in meta] == [("Hi there.", "Hi there.")] * 2
    assert all((exp / "samples" / p.name).with_suffix(".wav").stat().st_size > 44 for p in sidecars)
    # cuts without stage-2 tokens make no voice: run.sh's voice step says so and the stage succeeds
    assert "skipped: no voice made: --cuts" in proc.stderr and "has no utterance with a transcript" in proc.stderr


def test_dev_size_larger_than_the_corpus_does_not_silently_empty_test():
    from valle.data.splits import CutInfo, split_custom

    infos = [CutInfo(f"u{i}", "all", 2.0, "spk") for i in range(6)]
    with pytest.raises(ValueError, match=r"ask for 10 dev and 1 test .* with 6 utterance\(s\) .* the test split "
                                         r"would be empty; lower --dev-size/--test-size"):
        split_custom(infos, "10", "1", seed=0)
    got = split_custom(infos, "2", "1", seed=0)  # sizes that fit are drawn as asked
    assert [len(got[k]) for k in ("dev", "test", "train")] == [2, 1, 3]
