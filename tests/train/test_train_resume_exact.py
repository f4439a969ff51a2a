"""SIGKILL a training process mid-epoch, resume, and get exactly the uninterrupted run's losses."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from synthetic_corpus import base_args, make_data_dir
from valle.bin.train import main
from valle.train.checkpoint import load_latest

REPO = Path(__file__).resolve().parents[2]


def _steps(exp: Path) -> dict:
    out = {}
    for line in (exp / "steps.jsonl").read_text().splitlines():
        rec = json.loads(line)
        out[rec["step"]] = rec
    return out


def test_kill_and_resume_reproduces_losses(tmp_path):
    data = make_data_dir(tmp_path, num_train=16, num_dev=2)
    def args(exp):
        return base_args(data, exp, "--num-epochs", "2", "--save-every-n", "3", "--valid-interval", "4",
                                     "--num-workers", "1", "--keep-last-k", "2", "--dropout", "0.1")
    ref = tmp_path / "ref"
    main(args(ref))
    ref_steps = _steps(ref)
    assert len(ref_steps) >= 10

    exp = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "valle.bin.train", *args(exp)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if (exp / "checkpoint-3.pt").is_file() and (exp / "steps.jsonl").is_file() \
                    and len((exp / "steps.jsonl").read_text().splitlines()) >= 4:
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            time.sleep(0.02)
        assert proc.poll() is None, "training finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    path, ckpt = load_latest(exp)
    assert path is not None and 0 < ckpt["sampler"]["batches_done"], "the kill must land mid-epoch"
    assert ckpt["step"] < max(ref_steps)

    main(args(exp))  # --resume auto
    got = _steps(exp)
    assert sorted(got) == sorted(ref_steps)
    for step, rec in ref_steps.items():
        for key in ("loss", "ar_loss", "nar_loss", "grad_norm"):
            assert abs(got[step][key] - rec[key]) <= 1e-6, (step, key, got[step][key], rec[key])
    a = torch.load(ref / "epoch-2.pt", weights_only=True)["model"]
    b = torch.load(exp / "epoch-2.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
