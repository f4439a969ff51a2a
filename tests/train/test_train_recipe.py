"""End to end: custom prepare on tests/assets/samples, then egs/custom/run.sh --train-stage 1 and 2 (nano)."""
from __future__ import annotations

import shutil
import subprocess

import torch

from recipe_scripts import REPO, run_script_ok as _bash


def test_custom_recipe_stage1_then_stage2(samples_dir, tmp_path):
    corpus = tmp_path / "ljspeech-mini"
    shutil.copytree(samples_dir / "ljspeech-mini", corpus)
    _bash("egs/custom/prepare.sh", tmp_path, "--corpus-dir", corpus, "--codec", "encodec:random")
    common = ["--model-preset", "nano", "--num-epochs", "2", "--num-workers", "0", "--warmup-steps", "0"]
    # all run.sh stages: an AR trained from scratch skips synthesis (no NAR yet) and says why
    r1 = _bash("egs/custom/run.sh", tmp_path, "--train-stage", "1", *common)
    exp = tmp_path / "exp" / "custom"
    s1 = torch.load(exp / "epoch-2.pt", weights_only=True)
    assert s1["train_stage"] == 1 and "run: " in r1.stderr and "valle.bin.train" in r1.stderr
    assert "skipped: nothing synthesized" in r1.stderr and "was trained from scratch with --train-stage 1 only" in r1.stderr
    assert "Train the NAR (run.sh --train-stage 2)" in r1.stderr
    # ... and saves voices (the 1.5 s LJSpeech clips are too short for a 3-10 s voice: skipped, saying so)
    assert "valle.bin.make_voice" in r1.stderr and "has no utterance of 3-10 s" in r1.stdout
    assert "0 voice(s) written, 1 speaker(s) skipped" in r1.stdout
    r3 = _bash("egs/custom/run.sh", tmp_path, "--train-stage", "1", "--stage", "3", *common)  # a rerun says why too
    assert "skipped: nothing synthesized" in r3.stderr
    assert "validation audio disabled" not in r1.stderr and list((exp / "tensorboard").iterdir())
    avg = torch.load(exp / "averaged.pt", weights_only=True)
    e1 = torch.load(exp / "epoch-1.pt", weights_only=True)["model"]
    w = "ar_decoder.layers.0.linear1.weight"
    assert avg["train_stage"] == 1 and torch.allclose(avg["model"][w], (e1[w] + s1["model"][w]) / 2)
    _bash("egs/custom/run.sh", tmp_path, "--train-stage", "2", "--stop-stage", "1", *common,
          "--synthesize-at-valid", "false")
    s2 = torch.load(exp / "epoch-2.pt", weights_only=True)
    assert s2["train_stage"] == 2 and s2["trained_stages"] == [1, 2]
    ar = [k for k in s1["model"] if k.startswith("ar_")]
    assert all(torch.equal(s1["model"][k], s2["model"][k]) for k in ar)
    command = (exp / "command.sh").read_text()
    assert command.count("--train-stage 2") == 1
    # egs/custom/conf/train.yaml (--recipe-config) set these; the command line's --model-preset nano beat its small
    assert "--valid-interval 200" in command and "--max-duration 40.0" in command and "--model-preset nano" in command


def test_run_sh_rejects_bad_stage_and_passes_unknown_options_through(tmp_path):
    r = subprocess.run(["bash", str(REPO / "run.sh"), "--train-stage", "5"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode != 0 and "--train-stage must be 0, 1 or 2" in r.stderr
    r = subprocess.run(["bash", str(REPO / "run.sh"), "--stop-stage", "1", "--data-dir", "nowhere",
                        "--max-duration", "33"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode != 0
    assert "--max-duration 33" in r.stderr and "cuts_train.jsonl.gz" in r.stderr
