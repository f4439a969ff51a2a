"""bench/gpu.py runs on CPU (``--device cpu --quick``), so its CUDA benchmark cannot rot unseen."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gpu.py"


def test_gpu_bench_quick_on_cpu(capsys):
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    threads = torch.get_num_threads()
    try:
        assert gpu.main(["--device", "cpu", "--quick"]) == 0
    finally:
        torch.set_num_threads(threads)
    res = json.loads(capsys.readouterr().out)
    train, decode, enc = res["train"], res["decode"], res["encodec"]
    assert res["peak_source"] == "fp32 matmul measured in this run" and res["peak_gflops"] > 0
    assert train["step_gflop"] > 0 and train["mfu"] > 0 and train["dtype"] in ("float32", "bfloat16")
    assert abs(train["mfu"] - train["achieved_gflops"] / res["peak_gflops"]) <= 0.02 * train["mfu"] + 1e-3
    assert decode["codes_equal"] and decode["fused_frames_per_s"] > 0 and decode["static_frames_per_s"] > 0
    assert enc["clips"] == 2 and enc["audio_s_per_wall_s"] > 0
