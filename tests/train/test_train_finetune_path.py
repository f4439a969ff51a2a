"""Issue 18: what a first fine-tune run needs from training (nano model, tiny synthetic corpus).

Validation before the first step and at the end of every run (so best-valid-loss.pt always
exists), a cosine that follows --max-steps, epoch files pruned like batch checkpoints, the NAR
validated on all seven codebook stages, averaging without warm-up weights, and the record of
what trained each half of a checkpoint.
"""
from __future__ import annotations

import json
import logging
import math

import pytest
import torch

from synthetic_corpus import make_data_dir
from valle.bin.average import select
from valle.bin.train import main as train_main


def _args(data, exp, *extra):
    return ["--tokenized-dir", str(data / "tokenized"), "--exp-dir", str(exp), "--model-preset", "nano",
            "--num-workers", "0", "--tensorboard", "false", "--log-interval", "1", "--max-duration", "2.5",
            "--filter-min-duration", "0.1", "--device", "cpu", "--synthesize-at-valid", "false",
            "--valid-interval", "1000", "--save-every-n", "1000", *extra]


def _valid(exp):
    return [json.loads(line) for line in (exp / "valid.jsonl").read_text().splitlines()]


@pytest.fixture
def data(tmp_path):
    make_data_dir(tmp_path, num_train=8, num_dev=2, seed=3, max_frames=80)
    return tmp_path


def test_short_run_validates_before_the_first_step_and_at_the_end(data):
    exp = data / "exp"
    train_main(_args(data, exp, "--max-steps", "2", "--num-epochs", "5", "--train-stage", "1"))
    steps = [r["step"] for r in _valid(exp)]
    assert steps == [0, 2]  # the starting model on record, then the final weights
    best = torch.load(exp / "best-valid-loss.pt", weights_only=True)
    assert best["step"] == 2 and best["train_state"]["best_valid"] == pytest.approx(_valid(exp)[1]["loss"])


def test_cosine_follows_max_steps_and_a_short_run_warns_about_its_warmup(data, caplog):
    exp = data / "exp"
    train_main(_args(data, exp, "--max-steps", "3", "--warmup-steps", "1", "--scheduler", "cosine",
                     "--optimizer", "adamw", "--base-lr", "1e-3", "--train-stage", "1"))
    lrs = [json.loads(line)["lr"] for line in (exp / "steps.jsonl").read_text().splitlines()]
    assert len(lrs) == 3 and lrs[-1] == pytest.approx(1e-5)  # decayed to min_ratio 0.01 at --max-steps
    assert "ends the run before its warm-up" not in caplog.text
    with caplog.at_level(logging.WARNING):
        train_main(_args(data, data / "exp2", "--max-steps", "2", "--warmup-steps", "10", "--scheduler", "cosine",
                         "--optimizer", "adamw", "--train-stage", "1"))
    assert "--max-steps 2 ends the run before its warm-up (--warmup-steps 10)" in caplog.text


def test_cosine_of_a_run_that_a_cpu_budget_ends_decays_over_that_budget(data):
    """No --max-steps, no --lr-total-steps: the cosine follows the share of --max-cpu-seconds spent
    (before, it decayed over 100,000 steps, i.e. not at all), down to min_ratio on the last step."""
    exp = data / "exp"
    train_main(_args(data, exp, "--max-cpu-seconds", "3", "--num-epochs", "1000", "--warmup-steps", "1",
                     "--scheduler", "cosine", "--optimizer", "adamw", "--base-lr", "1e-3", "--train-stage", "1"))
    lrs = [json.loads(line)["lr"] for line in (exp / "steps.jsonl").read_text().splitlines()]
    assert len(lrs) >= 4
    assert lrs[0] > 0.9e-3 and lrs[-1] == pytest.approx(1e-5)  # at the budget's end: min_ratio 0.01
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))  # decays step by step as the budget is spent
    assert any(1.1e-5 < lr < 0.9e-3 for lr in lrs)  # through the middle, not a cliff at the end


def test_epoch_files_are_pruned_and_the_log_says_what_a_checkpoint_costs(data, caplog):
    exp = data / "exp"
    with caplog.at_level(logging.INFO):
        train_main(_args(data, exp, "--num-epochs", "4", "--keep-last-k", "2", "--train-stage", "1"))
    assert sorted(p.name for p in exp.glob("epoch-*.pt")) == ["epoch-3.pt", "epoch-4.pt"]
    size_mb = (exp / "epoch-4.pt").stat().st_size / 1e6
    assert f"saved checkpoint {exp / 'epoch-4.pt'} ({size_mb:.2f} MB)" in caplog.text


def test_nar_validation_scores_all_seven_stages_and_logs_each(data, caplog):
    exp = data / "exp"
    with caplog.at_level(logging.INFO):
        train_main(_args(data, exp, "--max-steps", "1", "--train-stage", "2"))
    for rec in _valid(exp):
        per_stage = [rec[f"nar_loss_q{q}"] for q in range(1, 8)]
        assert len(set(per_stage)) == 7  # seven different codebooks, not one drawn stage
        assert rec["nar_loss"] == pytest.approx(sum(per_stage) / 7)  # each codebook counts the same
        assert rec["loss"] == pytest.approx(rec["nar_loss"]) and "ar_loss" not in rec
    assert "nar_loss_q7" in caplog.text


def test_average_leaves_out_warmup_weights_and_includes_the_final_checkpoint(data):
    exp = data / "exp"
    train_main(_args(data, exp, "--max-steps", "5", "--warmup-steps", "2", "--save-every-n", "1",
                     "--keep-last-k", "0", "--num-epochs", "10", "--train-stage", "1"))
    chosen = select(exp, "auto", 10)
    steps = sorted(torch.load(p, weights_only=True)["step"] for p in chosen)
    assert steps == [3, 4, 5]  # one file per step, none from the warm-up (steps 1-2), the last included


def test_checkpoints_record_what_trained_each_half(data, caplog):
    ar_exp, nar_exp, lone = data / "ar", data / "nar", data / "lone"
    train_main(_args(data, ar_exp, "--max-steps", "1", "--train-stage", "1"))
    ar = torch.load(ar_exp / "best-valid-loss.pt", weights_only=True)
    assert ar["trained_by"]["nar"] == [] and ar["trained_by"]["ar"][0]["by"] == "valle.bin.train --train-stage 1"
    train_main(_args(data, nar_exp, "--max-steps", "1", "--train-stage", "2",
                     "--init-from", str(ar_exp / "best-valid-loss.pt")))
    nar = torch.load(nar_exp / "best-valid-loss.pt", weights_only=True)
    assert nar["trained_stages"] == [1, 2]  # it holds the trained AR too
    assert nar["trained_by"]["ar"] == ar["trained_by"]["ar"]
    assert nar["trained_by"]["nar"] == [{"by": "valle.bin.train --train-stage 2", "exp_dir": str(nar_exp),
                                         "from_step": 0, "to_step": 1}]
    assert "AR was never trained" not in caplog.text
    with caplog.at_level(logging.WARNING):
        train_main(_args(data, lone, "--max-steps", "1", "--train-stage", "2"))
    assert "--train-stage 2 on a model whose AR was never trained (fresh start, no --init-from)" in caplog.text
    assert torch.load(lone / "best-valid-loss.pt", weights_only=True)["trained_by"]["ar"] == []
    assert math.isfinite(nar["train_state"]["best_valid"])


def test_ctrl_c_names_the_checkpoint_to_resume_from(data):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    exp = data / "exp"
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    def ctrl_c_as_in_a_terminal():  # a test runner's worker may ignore or block SIGINT; its children inherit that
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    proc = subprocess.Popen([sys.executable, "-m", "valle.bin.train",
                             *_args(data, exp, "--num-epochs", "1000", "--save-every-n", "2", "--train-stage", "1")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_as_in_a_terminal)
    deadline = time.time() + 120
    while not list(exp.glob("checkpoint-*.pt")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"valle.bin.train did not stop within 120 s of Ctrl-C; its log ends:\n{err[-3000:]}")
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    line = next(l for l in err.splitlines() if "interrupted at step" in l)
    # the newest save: checkpoint-<step>.pt, or epoch-<n>.pt when Ctrl-C came after an epoch's end
    assert "rerun the same command to resume from" in line and "step(s) since" in line
    assert "/checkpoint-" in line or "/epoch-" in line, line


def test_console_and_tensorboard_log_the_same_loss(data, caplog):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    exp = data / "exp"
    argv = _args(data, exp, "--max-steps", "4", "--train-stage", "1")
    argv[argv.index("--tensorboard") + 1] = "true"
    argv[argv.index("--log-interval") + 1] = "2"
    with caplog.at_level(logging.INFO):
        train_main(argv)
    steps = [json.loads(line) for line in (exp / "steps.jsonl").read_text().splitlines()]
    acc = EventAccumulator(str(exp / "tensorboard"))
    acc.Reload()
    tb = {e.step: e.value for e in acc.Scalars("train/loss")}
    for step in (2, 4):
        mean = (steps[step - 2]["loss"] + steps[step - 1]["loss"]) / 2
        assert tb[step] == pytest.approx(mean, rel=1e-6)
        assert f"step {step} | loss {mean:.4f}" in caplog.text


def test_a_stage_switch_in_one_exp_dir_keeps_the_other_stage_best(data, caplog):
    """Stage 1 then stage 2 in one --exp-dir: stage 2's validation writes best-valid-loss.pt, so stage 1's best
    is kept first as best-valid-loss-stage1.pt (before, stage 2's first validation replaced it)."""
    exp = data / "exp"
    train_main(_args(data, exp, "--max-steps", "2", "--train-stage", "1"))
    stage1_best = (exp / "best-valid-loss.pt").read_bytes()
    assert torch.load(exp / "best-valid-loss.pt", weights_only=True)["train_stage"] == 1
    with caplog.at_level(logging.INFO):
        train_main(_args(data, exp, "--max-steps", "4", "--train-stage", "2"))
    assert (exp / "best-valid-loss-stage1.pt").read_bytes() == stage1_best
    assert torch.load(exp / "best-valid-loss.pt", weights_only=True)["train_stage"] == 2
    assert "stage 1's best checkpoint kept as" in caplog.text

