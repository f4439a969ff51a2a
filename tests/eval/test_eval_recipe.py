"""run.sh stage 4 end to end in the custom recipe: prepare, train a nano model, synthesize, evaluate."""
from __future__ import annotations

import json
import shutil

from recipe_scripts import run_script_ok as _bash


def test_custom_recipe_stage4_writes_every_output(eval_data, tmp_path):
    corpus = tmp_path / "ljspeech-mini"
    (corpus / "wavs").mkdir(parents=True)
    for name in ("LJ002-0020.wav", "LJ002-0035.wav"):
        shutil.copy(eval_data / name, corpus / "wavs" / name)
    shutil.copy(eval_data / "ljspeech_metadata.csv", corpus / "metadata.csv")
    _bash("egs/custom/prepare.sh", tmp_path, "--corpus-dir", corpus, "--codec", "encodec:random")
    # two 1.5 s utterances of one speaker, both in the train split: a plumbing run of every stage
    r = _bash("egs/custom/run.sh", tmp_path, "--stop-stage", "4", "--train-stage", "0", "--model-preset", "nano",
              "--num-epochs", "1", "--num-workers", "0",
              "--num-samples", "1", "--eval-num", "2", "--eval-cuts", "test dev train", "--eval-min-seconds", "1")
    exp = tmp_path / "exp" / "custom"
    out = exp / "eval" / "cross-sentence"
    assert "[stage 4] run: " in r.stderr and "valle.bin.evaluate" in r.stderr
    for name in ("utterances.jsonl", "summary.json", "summary.md", "summary.png"):
        assert (out / name).stat().st_size > 0, name
    assert list((out / "tensorboard").iterdir())
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["systems"]) == ["ground_truth", "codec_resynthesis", "best-valid-loss"]
    recs = [json.loads(line) for line in (out / "utterances.jsonl").read_text().splitlines()]
    assert len(recs) == 6 and len({r["id"] for r in recs}) == 2
    synth = [r for r in recs if r["system"] == "best-valid-loss"]
    assert all(r["status"] != "failed" and "wer" in r and (out / "best-valid-loss" / f"{r['id']}.json").is_file() for r in synth)
    # random codec weights and an untrained model: noise, scored as such
    assert summary["systems"]["ground_truth"]["wer"] < summary["systems"]["best-valid-loss"]["wer"]
    assert (exp / "eval" / "test_cross-sentence.tsv").is_file() and "| best-valid-loss |" in r.stdout
