"""2-process gloo DDP through torchrun matches one process that accumulates the same global batch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from synthetic_corpus import base_args, make_data_dir
from valle.bin.train import main

REPO = Path(__file__).resolve().parents[2]


def _steps(exp: Path):
    return [json.loads(l) for l in (exp / "steps.jsonl").read_text().splitlines()]


def test_ddp_two_processes_match_single_process_accumulation(tmp_path):
    data = make_data_dir(tmp_path, num_train=48, num_dev=0, min_frames=20, max_frames=30)
    common = ["--train-stage", "1", "--max-steps", "10", "--save-every-n", "0", "--max-duration", "1.0",
              "--num-buckets", "4", "--dropout", "0.0"]
    ddp = tmp_path / "ddp"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "valle.bin.train", *base_args(data, ddp, *common)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    single = tmp_path / "single"
    main(base_args(data, single, *common, "--accumulate-grad-steps", "2"))
    a, b = _steps(ddp), _steps(single)
    assert [r["step"] for r in a] == [r["step"] for r in b] == list(range(1, 11))
    for x, y in zip(a, b):
        assert x["frames"] == y["frames"]  # the same global batch
        assert abs(x["loss"] - y["loss"]) <= 1e-4 * max(1.0, abs(y["loss"])), (x, y)
        assert abs(x["grad_norm"] - y["grad_norm"]) <= 1e-3 * max(1.0, y["grad_norm"]), (x, y)
    pa = torch.load(ddp / "checkpoint-10.pt", weights_only=True)
    pb = torch.load(single / "checkpoint-10.pt", weights_only=True)
    assert len(pa["rng"]) == 2  # one RNG state per rank
    for k, v in pb["model"].items():
        assert torch.allclose(pa["model"][k], v, atol=1e-4), k
