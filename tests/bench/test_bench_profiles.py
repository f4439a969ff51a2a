"""The profiling parts of bench/decode.py and bench/encodec_profile.py run on tiny inputs, so they cannot rot."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_decode_step_profile_counts_the_fused_and_kernel_steps():
    decode = load("decode")
    layers = 2
    model = decode.build("small", d_model=64, nhead=2, num_layers=layers, dim_feedforward=128)
    x = decode.inputs(model, [7], [12])
    threads = torch.get_num_threads()
    try:
        prof, kernel = (decode.step_profile(model, x, frames=40, repeats=2, step_mode=m) for m in ("fused", "kernel"))
    finally:
        torch.set_num_threads(threads)
    ops = prof["ops_per_step"]
    # per layer: packed QKV, output, two FFN products, one attention; the head is called as a module
    assert ops["aten::addmm"] == 4 * layers
    assert ops["aten::scaled_dot_product_attention"] == layers
    assert ops["aten::argmax"] == 1  # greedy sampling
    weights = sum(p.numel() for layer in model.ar_decoder.layers for p in (
        layer.self_attn.in_proj_weight, layer.self_attn.out_proj.weight, layer.linear1.weight, layer.linear2.weight))
    weights += model.ar_predict_layer.weight.numel()
    assert prof["weights_mb"] == round(weights * 4 / 1e6, 1)
    assert prof["step_cpu_ms"] > 0 and prof["floor_weight_read_cpu_ms"] > 0 and prof["torch_ops_per_step"] > 0
    # the kernel step runs no torch product, attention or sampling operation: a handful of ops in all
    assert not {"aten::addmm", "aten::linear", "aten::scaled_dot_product_attention", "aten::argmax"} & set(
        kernel["ops_per_step"])
    assert kernel["step_cpu_ms"] > 0 and 0 < kernel["torch_ops_per_step"] < prof["torch_ops_per_step"] / 5


def test_decode_dtype_phases_times_three_precisions_and_the_auto_pick():
    """The bf16-vs-fp32 part runs on any CPU (a tiny model: bf16 without native support is only slow)."""
    decode = load("decode")
    model = decode.build("small", d_model=64, nhead=2, num_layers=2, dim_feedforward=128)
    res = decode.dtype_phases(model, 10, repeats=1, text_len=7, prompt_len=12)
    assert set(res) == {"fp32", "bf16", "bf16_nar_fp32_ar", "ar_codes_equal_fp32", "auto_ar_dtype"}
    assert all(res[k]["frames_per_s"] > 0 and res[k]["frames_per_cpu_s"] > 0 for k in ("fp32", "bf16", "bf16_nar_fp32_ar"))
    assert res["ar_codes_equal_fp32"] is True  # the AR out of autocast makes the fp32 codes
    assert res["auto_ar_dtype"] in ("float32", "bfloat16")


def test_encodec_profile_names_the_encoder_operations(capsys):
    profile = load("encodec_profile")
    threads = torch.get_num_threads()
    try:
        assert profile.main(["--seconds", "3", "--group-sizes", "8"]) == 0
    finally:
        torch.set_num_threads(threads)
    res = json.loads(capsys.readouterr().out)
    assert res["audio_seconds"] >= 3 and res["encode_audio_s_per_cpu_s"] > 0
    assert {"torch.conv2d", "torch.lstm", "torch.addmm"} <= set(res["ops"])
    assert abs(sum(v["share"] for v in res["ops"].values()) - 1) < 0.1  # the named operations are nearly all of it
    assert res["group_sizes"]["8"]["codes_equal"]  # the same groups give the same codes


def test_decode_batch_curve_bounds_the_speedup_by_its_prompt_passes():
    decode = load("decode")
    model = decode.build("small", d_model=64, nhead=2, num_layers=2, dim_feedforward=128)
    sentences = dict(text_lens=[5, 9, 7, 4], prompt_lens=[10, 16, 8, 12], new=[6, 12, 9, 15])
    res = decode.batch_curve(model, 1, sizes=(1, 4), sentences=sentences)
    assert res["codes_equal"] is True
    assert {"batch1", "batch4", "batch1_first_frame", "batch4_first_frame"} <= set(res)
    # one frame per sentence costs less than all of them, so one by one's first frames are a share below 1,
    # and the bound is above 1 (a batch whose steps were free would still beat one by one)
    assert 0 < res["first_frame_share_one_by_one"] < 1
    assert res["speedup_bound_if_steps_were_free"] > 1
    assert res["speedup"] > 0


def test_decode_product_times_both_product_loops():
    decode = load("decode")
    res = decode.product_times(d_model=32, ff=64, layers=2, rows=(1, 4), repeats=1)
    assert res["weights_mb"] == round(2 * (3 * 32 * 32 + 32 * 32 + 2 * 64 * 32) / 1e6, 1)
    for n in (1, 4):
        got = res[f"rows{n}"]
        assert got["tiles_ms"] > 0 and got["one_row_loop_ms"] > 0
        assert got["tiles_gmac_per_s"] > 0 and got["one_row_loop_gmac_per_s"] > 0
