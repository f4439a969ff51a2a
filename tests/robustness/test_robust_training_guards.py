"""Training guards of the second robustness pass (issue 19): the experiment-folder lock, --resume auto
by stored step, numeric option checks, a NaN validation loss, disk full during a checkpoint write and
valle.bin.average's --num (nano model, tiny lhotse corpus)."""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess

import pytest

from robust_helpers import PYTHON, REPO, leftovers, python_env, run_module
from robust_train_data import train_args
from valle.bin.train import main as train_main
from valle.train.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def two_epochs(train_dir, tmp_path_factory):
    """A finished 2-epoch run (epoch-1.pt, epoch-2.pt, no batch checkpoints)."""
    exp = tmp_path_factory.mktemp("two") / "exp"
    train_main(train_args(train_dir, exp, "--num-epochs", "2", "--save-every-n", "0"))
    return exp


def _hold_lock(exp):
    """A separate process holding the experiment lock, as a running training does."""
    proc = subprocess.Popen([PYTHON, "-m", "valle.train.exp_lock", str(exp), "600"], cwd=REPO, env=python_env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_training_in_one_exp_dir_is_refused_and_a_killed_holder_leaves_no_stale_lock(train_dir, tmp_path):
    from valle.train.exp_lock import ExperimentLocked

    exp = tmp_path / "exp"
    holder = _hold_lock(exp)
    try:
        with pytest.raises(ExperimentLocked, match=rf"--exp-dir {exp} is in use by another training \(pid {holder.pid}"):
            train_main(train_args(train_dir, exp, "--num-epochs", "1"))
        assert not list(exp.glob("*.pt")) and not (exp / "steps.jsonl").exists(), "the second run touched nothing"
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # as a crashed or killed training would end
        holder.wait()
    train_main(train_args(train_dir, exp, "--num-epochs", "1"))  # the dead holder's lock does not block
    assert (exp / "epoch-1.pt").is_file()


def test_resume_auto_picks_the_highest_stored_step_not_the_newest_file(two_epochs, train_dir, tmp_path):
    exp = tmp_path / "exp"
    shutil.copytree(two_epochs, exp)
    os.utime(exp / "epoch-2.pt", (1_000_000, 1_000_000))  # as cp -r without -p may leave them: epoch-1 newest
    before = (exp / "epoch-2.pt").read_bytes()
    steps = load_checkpoint(exp / "epoch-2.pt")["step"]
    train_main(train_args(train_dir, exp, "--num-epochs", "2", "--save-every-n", "0"))
    assert (exp / "epoch-2.pt").read_bytes() == before, "nothing retrained: epoch-2.pt (the highest step) was resumed"
    lines = [json.loads(line) for line in (exp / "steps.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(1, steps + 1))


@pytest.mark.parametrize("option,value,message", [
    ("--base-lr", "nan", "--base-lr nan: must be a finite number"),
    ("--base-lr", "-0.1", "--base-lr -0.1: must be > 0"),
    ("--max-duration", "inf", "--max-duration inf: must be a finite number"),
    ("--dropout", "1.5", "--dropout 1.5: must be >= 0.0 and < 1.0"),
    ("--num-epochs", "0", "--num-epochs 0: must be >= 1"),
])
def test_nan_infinite_or_out_of_range_numeric_options_are_refused(train_dir, tmp_path, capsys, option, value,
                                                                  message):
    exp = tmp_path / "exp"
    with pytest.raises(SystemExit) as e:
        train_main(train_args(train_dir, exp, option, value))
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not exp.exists(), "refused before the experiment folder is made"


def test_nan_validation_loss_stops_training_and_logs_are_json(train_dir, tmp_path):
    from valle.train.options import parse_args
    from valle.train.trainer import Trainer, TrainingStopped

    exp = tmp_path / "exp"
    trainer = Trainer(parse_args(train_args(train_dir, exp, "--num-epochs", "1", "--save-every-n", "0")))

    def poison_eval(module, inputs, output):  # only validation (eval mode) turns NaN
        return output if module.training else output * float("nan")

    trainer.model.ar_text_embedding.register_forward_hook(poison_eval)
    with pytest.raises(TrainingStopped, match=r"validation loss is nan at step \d+: the model diverged"):
        trainer.fit()
    assert not list(exp.glob("*.pt")), "no checkpoint of a model whose validation loss is NaN"
    for name in ("steps.jsonl", "valid.jsonl"):
        for line in (exp / name).read_text().splitlines():
            rec = json.loads(line, parse_constant=lambda c: pytest.fail(f"{name}: bare {c} is not JSON"))
            assert all(v is None or not isinstance(v, float) or math.isfinite(v) for v in rec.values())
    valid = [json.loads(line) for line in (exp / "valid.jsonl").read_text().splitlines()]
    assert valid[-1]["loss"] is None


def test_disk_full_during_a_checkpoint_write_says_so_and_keeps_the_previous_one(two_epochs, train_dir, tmp_path):
    exp = tmp_path / "exp"
    shutil.copytree(two_epochs, exp)
    (exp / "epoch-2.pt").unlink()
    previous = (exp / "epoch-1.pt").read_bytes()
    size = len(previous)
    # a file-size limit below one checkpoint: the kernel fails the write (EFBIG, as ENOSPC on a full disk)
    proc = run_module("valle.bin.train", train_args(train_dir, exp, "--num-epochs", "2", "--save-every-n", "0"),
                      max_file_bytes=size // 2)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    # the first write of epoch 2 that fails: best-valid-loss.pt (the epoch-end validation) or epoch-2.pt
    assert "disk full" in last and ("epoch-2.pt" in last or "best-valid-loss.pt" in last), last
    assert "Traceback" not in proc.stderr
    assert (exp / "epoch-1.pt").read_bytes() == previous and not (exp / "epoch-2.pt").exists()
    assert not leftovers(exp)
    assert load_checkpoint(exp / "epoch-1.pt")["step"] > 0, "the previous checkpoint still loads"


@pytest.mark.parametrize("num", ["0", "-2"])
def test_average_with_a_bad_num_is_one_line_not_a_traceback(two_epochs, tmp_path, num):
    proc = run_module("valle.bin.average", ["--exp-dir", two_epochs, "--num", num, "--output", tmp_path / "a.pt"])
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: --num must be >= 1 (how many checkpoints to average), got {num}"]
    assert not (tmp_path / "a.pt").exists()
