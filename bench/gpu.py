"""GPU benchmark, printed as one JSON object: paper-size AR training step with its MFU, AR decoding
with and without a CUDA-graph step, and Encodec stage-3 batch throughput.

    .venv/bin/python bench/gpu.py                       # on a machine with an NVIDIA GPU (< 5 min)
    .venv/bin/python bench/gpu.py --device cpu --quick  # a few seconds; the test suite runs this

- ``train``: the ``vallex`` preset (370 M parameters), train stage 1 (the AR), batch ``--batch``
  x ``--frames`` frames x 8 codebooks with 60 text tokens, bf16 autocast where ``--dtype auto``
  picks it (valle.utils.precision), fused AdamW. MFU = the step's matrix-product FLOPs
  (bench/model.py ``ar_step_flops``: forward + backward = 3x forward) / time / the device's peak:
  the dense bf16 tensor-core peak of the GPU from its name (``PEAK_TFLOPS``, or ``--peak-tflops``),
  on CPU the fp32 matmul rate measured in the same run.
- ``decode``: paper size (bf16 weights on CUDA), greedy, ``--decode-frames`` frames after a
  225-frame prompt: ``fused`` (one launch per operation) vs ``cuda_graph`` (FusedARStep's
  fixed-shape step captured once and replayed per frame); on CPU ``static`` (the same fixed-shape
  step, uncaptured) stands in for it, and their codes are compared.
- ``encodec``: stage 3's batch encoder (valle.codec.encodec_batch, random weights: the same cost as
  the real ones) on ``--clips`` clips of 4..12 s of noise at 24 kHz: audio seconds per wall second.

With ``--quick`` every size shrinks (d128 / 2 layers, short batches and clips) so the script runs
in seconds anywhere: that run checks it works, its figures mean nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))
from model import ar_step_flops, make_adamw, matmul_flops  # noqa: E402  (bench/model.py)

from valle.models import VALLE, get_preset  # noqa: E402
from valle.models.decoding import ar_decode  # noqa: E402
from valle.utils.precision import cpu_info, resolve_dtype  # noqa: E402

# Dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, from the vendors' data sheets.
# Matched in this order against torch.cuda.get_device_name (an H100 SXM reports "NVIDIA H100 80GB HBM3").
PEAK_TFLOPS = {"H200": 989.4, "H100 SXM": 989.4, "H100 80GB HBM3": 989.4, "H100 NVL": 835.0, "H100 PCIe": 756.0,
               "H100": 756.0,
               "A100": 312.0, "L40S": 362.0, "L4": 121.0}


def sig(x: float, digits: int = 4) -> float:
    """``x`` to ``digits`` significant digits (a slow CPU run's small rates must not round to 0)."""
    return float(f"{x:.{digits}g}")


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_flops(device: torch.device, override: float) -> tuple:
    """(peak FLOP/s, where it comes from)."""
    if override:
        return override * 1e12, "--peak-tflops"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, tflops in PEAK_TFLOPS.items():  # most specific names first (L40S before L4)
            if key in name:
                return tflops * 1e12, f"bf16 dense peak of {key} (data sheet)"
        raise SystemExit(f"error: unknown GPU {name!r}: pass its dense bf16 peak with --peak-tflops")
    return matmul_flops(512, 0.3), "fp32 matmul measured in this run"


def model_config(quick: bool):
    if quick:
        return get_preset("vallex", d_model=128, nhead=2, num_layers=2)
    return get_preset("vallex")


def bench_train(device, dtype: str, quick: bool, batch: int, frames: int, steps: int, peak: float) -> dict:
    torch.manual_seed(0)
    cfg = model_config(quick)
    model = VALLE(cfg).to(device).train()
    opt = make_adamw(model.parameters())
    S = 60
    g = torch.Generator().manual_seed(0)
    data = dict(text_tokens=torch.randint(0, cfg.text_vocab_size, (batch, S), generator=g),
                text_lens=torch.full((batch,), S), text_langs=torch.zeros(batch, S, dtype=torch.long),
                audio_codes=torch.randint(0, 1024, (batch, frames, 8), generator=g),
                audio_lens=torch.full((batch,), frames))
    data = {k: v.to(device) for k, v in data.items()}
    low = dtype != "float32"

    def step():
        with torch.autocast(device.type, dtype=getattr(torch, dtype), enabled=low):
            loss = model(data, 1)["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(2):  # warm-up: allocator, kernel selection
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    dt = (time.perf_counter() - t0) / steps
    flops = ar_step_flops(B=batch, T=frames, S=S, d=cfg.d_model, ff=cfg.dim_feedforward, layers=cfg.num_layers,
                          vocab=cfg.ar_audio_rows)
    out = {"parameters": sum(p.numel() for p in model.parameters()), "dtype": dtype, "batch": [batch, frames],
           "step_s": sig(dt), "audio_frames_per_s": sig(batch * frames / dt),
           "step_gflop": sig(flops / 1e9), "achieved_gflops": sig(flops / dt / 1e9),
           "mfu": sig(flops / dt / peak)}
    if device.type == "cuda":
        out["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 30, 2)
    return out


def bench_decode(device, quick: bool, new_frames: int) -> dict:
    torch.manual_seed(0)
    model = VALLE(model_config(quick)).eval()
    if device.type == "cuda":
        model = model.to(device=device, dtype=torch.bfloat16)
    eos = torch.tensor([model.config.eos_id], device=device)  # random weights: forbid EOS
    model.ar_predict_layer.register_forward_hook(lambda m, i, out: out.index_fill(-1, eos, float("-inf")))
    g = torch.Generator().manual_seed(0)
    S, P = 60, 225
    text = torch.randint(0, model.config.text_vocab_size, (1, S), generator=g).to(device)
    prompt = torch.randint(0, 1024, (1, P), generator=g).to(device)
    modes = ("fused", "cuda_graph") if device.type == "cuda" else ("fused", "static")
    res, codes = {}, {}
    for mode in modes:
        for attempt in range(2):  # the first run warms up (and captures the graph once per batch size)
            sync(device)
            t0 = time.perf_counter()
            with torch.no_grad():
                r = ar_decode(model, text, torch.tensor([S], device=device), None, prompt,
                              torch.tensor([P], device=device), torch.tensor([new_frames]), top_k=1, step_mode=mode)
            sync(device)
            dt = time.perf_counter() - t0
        codes[mode] = r.codes[0]
        res[f"{mode}_frames_per_s"] = sig(len(r.codes[0]) / dt)
        log("decode", mode, res[f"{mode}_frames_per_s"])
    res["codes_equal"] = bool(torch.equal(codes[modes[0]], codes[modes[1]]))
    res["new_frames"], res["prompt_frames"] = new_frames, P
    res["graph_speedup"] = round(res[f"{modes[1]}_frames_per_s"] / res["fused_frames_per_s"], 2)
    return res


def bench_encodec(device, quick: bool, clips: int) -> dict:
    import logging

    from valle.codec.encodec_batch import encode_batch
    from valle.codec.encodec_model import load_encodec_model

    logging.getLogger("valle.codec.encodec_model").setLevel(logging.ERROR)  # the random-weights banner
    model = load_encodec_model("random", device)
    g = torch.Generator().manual_seed(0)
    seconds = [0.5 + 0.25 * (i % 2) for i in range(clips)] if quick else [4.0 + (i % 9) for i in range(clips)]
    wavs = [0.1 * torch.randn(int(24000 * s), generator=g) for s in seconds]
    encode_batch(model, wavs[:1])  # warm-up
    sync(device)
    t0 = time.perf_counter()
    codes = encode_batch(model, wavs)
    sync(device)
    dt = time.perf_counter() - t0
    assert [c.shape[0] for c in codes] == [-(-len(w) // 320) for w in wavs]
    return {"clips": clips, "audio_s": round(sum(seconds), 2), "wall_s": sig(dt),
            "audio_s_per_wall_s": sig(sum(seconds) / dt)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto",
                   help="auto | cuda | cuda:N | cpu; auto = cuda when visible, else cpu with --quick (make bench)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs (seconds)")
    p.add_argument("--dtype", default="auto", help="training autocast dtype (auto | float32 | bfloat16)")
    p.add_argument("--batch", type=int, default=None, help="training batch size (default 16; quick 2)")
    p.add_argument("--frames", type=int, default=None, help="audio frames per item (default 600; quick 40)")
    p.add_argument("--steps", type=int, default=None, help="timed training steps (default 10; quick 1)")
    p.add_argument("--decode-frames", type=int, default=None, help="AR frames to decode (default 300; quick 8)")
    p.add_argument("--clips", type=int, default=None, help="Encodec clips (default 64; quick 2)")
    p.add_argument("--peak-tflops", type=float, default=0.0, help="the device's peak (default: from its name)")
    args = p.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
        if args.device == "cpu" and not args.quick:
            log("no CUDA device: running --device cpu --quick (the figures check the script, nothing more)")
            args.quick = True
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but no CUDA device is visible: use --device cpu (with --quick)")
    q = args.quick
    batch, frames = args.batch or (2 if q else 16), args.frames or (40 if q else 600)
    steps, new_frames = args.steps or (1 if q else 10), args.decode_frames or (8 if q else 300)
    clips = args.clips or (2 if q else 64)
    if device.type == "cpu":
        torch.set_num_threads(1)
    dtype = resolve_dtype(args.dtype, device)
    peak, peak_source = peak_flops(device, args.peak_tflops)
    res = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_info(),
           "torch": torch.__version__, "quick": q, "peak_gflops": sig(peak / 1e9), "peak_source": peak_source}
    res["train"] = bench_train(device, dtype, q, batch, frames, steps, peak)
    log("train", res["train"])
    res["decode"] = bench_decode(device, q, new_frames)
    res["encodec"] = bench_encodec(device, q, clips)
    log("encodec", res["encodec"])
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
