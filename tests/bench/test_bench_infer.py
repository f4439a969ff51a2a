"""bench/infer.py runs on a small model in every dtype it offers, so it cannot rot."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_infer_bench_times_each_dtype_and_records_the_ar_dtype(capsys):
    spec = importlib.util.spec_from_file_location("bench_infer", BENCH / "infer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    try:
        assert module.main(["--models", "vallex_d256_2layers", "--quantize", "none,int8", "--dtypes", "float32,auto",
                            "--no-kv-baseline", "--frames", "6", "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    res = json.loads(capsys.readouterr().out)["results"]
    # every combination but int8 under a low-precision dtype (refused by the Synthesizer) ran
    assert set(res) == {"vallex_d256_2layers/kv_cache", "vallex_d256_2layers/auto/kv_cache",
                        "vallex_d256_2layers/int8/kv_cache", "vallex_d256_2layers/int8/auto/kv_cache"}
    assert all(r["rtf"] > 0 and r["audio_seconds"] > 0 for r in res.values())
    assert res["vallex_d256_2layers/kv_cache"]["dtype"] == res["vallex_d256_2layers/int8/auto/kv_cache"]["dtype"] == "float32"
    auto = res["vallex_d256_2layers/auto/kv_cache"]
    assert auto["dtype"] in ("float32", "bfloat16") and auto["ar_dtype"] in ("float32", auto["dtype"])
