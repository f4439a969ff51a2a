"""AR decoding speed, printed as one JSON object: every step mode against the module path, int8 against
fp32 at paper size, and 8 sentences in one batch against one by one.

    OMP_NUM_THREADS=1 .venv/bin/python bench/decode.py [--quick] [--threads 1] [--parts d256,batch8,...]

Every comparison is timed in the same run, alternating its two sides ``--repeats`` times (the best
of each is reported, with all runs), as wall-clock frames/s and as frames per CPU-second of this
process (the second is what a busy shared machine disturbs least). The CPU model, its SIMD flags,
torch's dispatch level and the load average at the start and end are printed with the figures.
Weights are random; EOS is forbidden so every run makes the requested frames: fp32 models through
their weights (``suppress_eos``, so the output layer runs as in synthesis, inside the "kernel" step),
int8 ones through ``ar_decode``'s ``min_frames`` (an EOS weight of -100 would crush the int8 scale; a forward
hook on the output layer, used before, took it out of the kernel into torch's int8 product, whose activations
are quantized over the batch: the batch-mates changed each other's codes, which the kernel's do not).

- ``d256_l4``: the ``small`` size (d256 / 4 heads / 4 layers), 150 frames after a 225-frame
  prompt and 60 text tokens, greedy, in every step mode the device runs (``kernel``, the default
  on the CPU; ``fused``, torch operations; ``modules``, the decoder modules with the KV cache;
  ``static``; ``cuda_graph`` on CUDA only): their codes must be equal.
- ``d256_step_profile``: per step mode (``kernel``, ``fused``), where the time goes: prefill (+1
  frame) apart from the steps, the torch operations one step calls (torch.profiler), and two floors
  measured in the same run: the step's 17 weight products alone in torch, and one read of their
  fp32 weights (``sum``).
- ``paper`` (not with ``--quick``): the ``vallex`` preset (370 M parameters), 40 frames after a
  225-frame prompt, prefill included: fp32 vs ``--quantize int8`` (its AR steps in the compiled kernel,
  the default, and in torch's int8 step, ``int8_torch_step``); and 8 sentences in one batch.
- ``batch8``: 8 sentences of 20..90 text tokens and prompts of 75..225 frames, 40..110 new frames
  each, decoded in groups of 1 (one by one), 2, 4 and 8 (d256/4, and int8 paper size without --quick);
  ``speedup``: 8 at a time against one by one; ``codes_equal``: every group size gave the same codes;
  ``speedup_bound_if_steps_were_free``: one by one's time over the 8-group's prompt pass and first frame
  (the most batching the steps could give), and ``first_frame_share_one_by_one``.
- ``paper_batches``: paper size, fp32 and int8, B = 1, 2, 4 sentences (225-frame prompts, 60 text ids)
  decoded together for 40 frames each: total frames/s across the batch, prefill included and steps alone.
- ``dtype`` / ``paper_dtype`` (CPUs with native bf16 only): AR + NAR (``model.inference``) at d256 (150
  frames) / paper size (20 frames) in fp32, in bf16 autocast, and in bf16 with the AR in fp32 (``ar_fp32``),
  with the AR dtype ``--dtype auto`` picks for that model (``valle.infer.ar_dtype``).
- ``products`` (not with ``--quick``): the paper-size step's 48 int8 weight products alone for 1, 4 and 8 batch
  rows, with the kernel's 4 x 4 tiles and with its one-weight-row loop only (``product_times``).
- ``int8_agreement``: greedy codes of the published VALL-E X reference model
  (tests/assets/reference/vallex_small.pt) with int8 weights vs fp32: AR codebook 0 and all 8.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from valle.models import VALLE, get_preset  # noqa: E402
from valle.models.decoding import STEP_MODES, ar_decode  # noqa: E402
from valle.models.eos_suppression import suppress_eos  # noqa: E402
from valle.models.quantize import quantize_for_synthesis  # noqa: E402
from valle.utils.precision import cpu_info  # noqa: E402
from valle.utils.tensor_bytes import tensor_bytes  # noqa: E402


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def build(preset: str, quantize: str = "none", **over) -> VALLE:
    torch.manual_seed(0)
    model = VALLE(get_preset(preset, **over)).eval()
    if quantize == "none":
        suppress_eos(model)
        return model
    return quantize_for_synthesis(model, quantize)  # EOS: min_frames (timed_decode)


def inputs(model, text_lens, prompt_lens, seed=0):
    g = torch.Generator().manual_seed(seed)
    B, S, P = len(text_lens), max(text_lens), max(prompt_lens)
    vocab = model.config.text_vocab_size
    return dict(text=torch.randint(0, vocab, (B, S), generator=g), text_lens=torch.tensor(text_lens),
                prompt=torch.randint(0, 1024, (B, P), generator=g), prompt_lens=torch.tensor(prompt_lens))


def timed_decode(model, x, new_frames, step_mode="auto"):
    """(codes, wall s, CPU s) of one greedy ar_decode call. EOS is forbidden by the weights of an fp32 output
    layer (``build``), and by ``min_frames`` for a quantized one."""
    n = torch.tensor(new_frames)
    quantized = type(model.ar_predict_layer) is not torch.nn.Linear
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.no_grad():
        r = ar_decode(model, x["text"], x["text_lens"], None, x["prompt"], x["prompt_lens"],
                      n, top_k=1, step_mode=step_mode, min_frames=n if quantized else None)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    got = [len(c) for c in r.codes]
    if got != list(new_frames):
        raise RuntimeError(f"decoding made {got} frames, not {list(new_frames)}")
    return r.codes, wall, cpu


def compare(sides, repeats):
    """Alternate the named callables (each -> (codes, frames, wall, cpu)); best and all rates per side."""
    runs = {name: [] for name in sides}
    codes = {}
    for _ in range(repeats):
        for name, fn in sides.items():
            c, frames, wall, cpu = fn()
            codes[name] = c
            runs[name].append((frames / wall, frames / cpu))
            log(name, round(frames / wall, 1), "frames/s wall,", round(frames / cpu, 1), "per CPU-s")
    out = {name: {"frames_per_s": round(max(r[0] for r in rs), 1),
                  "frames_per_cpu_s": round(max(r[1] for r in rs), 1),
                  "all_frames_per_s": [round(r[0], 1) for r in rs]} for name, rs in runs.items()}
    return out, codes


def single(model, x, n, step_mode="auto"):
    def fn():
        c, w, cpu = timed_decode(model, x, [n] * len(x["text_lens"]), step_mode)
        return c, n * len(c), w, cpu
    return fn


SENTENCES8 = dict(text_lens=[20, 90, 35, 60, 45, 75, 30, 50], prompt_lens=[75, 225, 150, 100, 200, 125, 175, 90],
                  new=[40, 110, 60, 90, 70, 100, 50, 80])


def batch_curve(model, repeats, sizes=(1, 2, 4, 8), sentences=SENTENCES8):
    """The 8 sentences decoded ``n`` at a time (consecutive groups) for each ``n`` in ``sizes``; n = 1 is
    one by one. Prefill included. ``speedup``: the largest size against one by one. What bounds it, timed in
    the same run: the same groups making one frame each (the prompt pass and the first frame's choice, no step), as
    ``first_frame_share_one_by_one`` (of one by one's whole time) and ``speedup_bound_if_steps_were_free``
    (one by one's whole time over the largest group's one-frame time)."""
    text_lens, prompt_lens, new = sentences["text_lens"], sentences["prompt_lens"], sentences["new"]
    x = inputs(model, text_lens, prompt_lens, seed=1)

    def groups_of(n, frames):
        def fn():
            codes, wall, cpu = [], 0.0, 0.0
            for i in range(0, len(frames), n):
                idx = list(range(i, min(i + n, len(frames))))
                S, P = max(text_lens[j] for j in idx), max(prompt_lens[j] for j in idx)
                xi = dict(text=x["text"][idx, :S], text_lens=torch.tensor([text_lens[j] for j in idx]),
                          prompt=x["prompt"][idx, :P], prompt_lens=torch.tensor([prompt_lens[j] for j in idx]))
                c, w, cu = timed_decode(model, xi, [frames[j] for j in idx])
                codes += c
                wall, cpu = wall + w, cpu + cu
            return codes, sum(frames), wall, cpu
        return fn

    res, codes = compare({f"batch{n}": groups_of(n, new) for n in sizes}, repeats)
    ends = (sizes[0], sizes[-1])
    first, _ = compare({f"batch{n}_first_frame": groups_of(n, [1] * len(new)) for n in ends}, repeats)
    res.update(first)
    one, top = res[f"batch{sizes[0]}"], res[f"batch{sizes[-1]}"]
    whole_s = sum(new) / one["frames_per_s"]  # best wall times from the best rates
    first_s = {n: len(new) / first[f"batch{n}_first_frame"]["frames_per_s"] for n in ends}
    res["sentences"] = sentences
    res["speedup"] = round(top["frames_per_s"] / one["frames_per_s"], 2)
    res["speedup_cpu"] = round(top["frames_per_cpu_s"] / one["frames_per_cpu_s"], 2)
    res["first_frame_share_one_by_one"] = round(first_s[sizes[0]] / whole_s, 3)
    res["speedup_bound_if_steps_were_free"] = round(whole_s / first_s[sizes[-1]], 2)
    res["codes_equal"] = all(torch.equal(a, b) for n in sizes for a, b in zip(codes[f"batch{n}"], codes[f"batch{sizes[0]}"]))
    return res


def dtype_phases(model, new_frames: int, repeats: int, text_len: int = 60, prompt_len: int = 225) -> dict:
    """AR + NAR as synthesis runs them (``model.inference``, greedy, ``new_frames`` frames after the prompt):
    fp32, bf16 autocast for both, and bf16 with the AR taken out of autocast (``ar_fp32``: the fp32 kernel
    step); ``auto_ar_dtype``: what ``valle.infer.ar_dtype`` picks for this model here."""
    from valle.infer.ar_dtype import choose_ar_dtype

    x = inputs(model, [text_len], [prompt_len])
    prompts = torch.randint(0, model.config.num_audio_tokens, (1, prompt_len, model.config.num_quantizers),
                            generator=torch.Generator().manual_seed(0))

    def side(bf16: bool, ar_fp32: bool):
        def fn():
            t0, c0 = time.perf_counter(), time.process_time()
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = model.inference(x["text"], x["text_lens"], torch.tensor([text_len // 3]), prompts,
                                      x["prompt_lens"], top_k=1, max_new_frames=new_frames, ar_fp32=ar_fp32)
            return out, new_frames, time.perf_counter() - t0, time.process_time() - c0
        return fn

    sides = {"fp32": side(False, False), "bf16": side(True, False), "bf16_nar_fp32_ar": side(True, True)}
    for fn in sides.values():  # warm-up: kernels, first-call allocations
        fn()
    res, codes = compare(sides, repeats)
    res["ar_codes_equal_fp32"] = torch.equal(codes["bf16_nar_fp32_ar"][0][:, 0], codes["fp32"][0][:, 0])
    res["auto_ar_dtype"] = choose_ar_dtype(model, torch.device("cpu"), "bfloat16")
    return res


def int8_agreement():
    sys.path.insert(0, str(ROOT / "tests" / "models"))
    from reference_case import case_inputs

    from valle.models.checkpoint_import import model_from_checkpoint

    ref = ROOT / "tests" / "assets" / "reference"
    case = torch.load(ref / "vallex_small_case_en.pt", weights_only=True)
    x, n = case_inputs(case["cases"][0]), case["max_new_frames"]
    out = {}
    for mode in ("none", "int8"):
        model = model_from_checkpoint(ref / "vallex_small.pt", model_preset="vallex")[0].eval()
        with torch.no_grad():
            out[mode] = quantize_for_synthesis(model, mode).inference(**x, top_k=1, max_new_frames=n)[0]
    a, b = out["none"], out["int8"]
    k = min(len(a), len(b))
    return {"frames_fp32": len(a), "frames_int8": len(b),
            "fp32_equals_reference_codes": bool(torch.equal(a, case["cases"][0]["outputs"]["codes"][0])),
            "ar_codebook0_agreement": round(float((a[:k, 0] == b[:k, 0]).float().mean()), 4),
            "all_codebooks_agreement": round(float((a[:k] == b[:k]).float().mean()), 4)}


def step_profile(model, x, frames=150, repeats=3, step_mode="auto") -> dict:
    """Prefill and per-step CPU time of one step mode, the torch operations of one step, and the floors."""
    timed_decode(model, x, [frames], step_mode)  # warm-up
    best = {}
    for n in (1, frames):
        best[n] = min(timed_decode(model, x, [n], step_mode)[2] for _ in range(repeats))
    step_ms = (best[frames] - best[1]) / (frames - 1) * 1e3
    with torch.no_grad(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        timed_decode(model, x, [11], step_mode)
    with torch.no_grad(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof1:
        timed_decode(model, x, [1], step_mode)
    ops = {e.key: e.count for e in prof.key_averages()}
    for e in prof1.key_averages():  # what 10 more frames add, per frame
        ops[e.key] = ops.get(e.key, 0) - e.count
    per_step = {k: round(v / 10, 1) for k, v in sorted(ops.items(), key=lambda kv: -kv[1]) if v > 0 and k.startswith("aten::")}
    dec = model.ar_decoder
    weights = [w.t().contiguous() for layer in dec.layers for w in (layer.self_attn.in_proj_weight,
               layer.self_attn.out_proj.weight, layer.linear1.weight, layer.linear2.weight)]
    weights.append(model.ar_predict_layer.weight.t().contiguous())
    rows = {w.shape[0]: torch.randn(1, w.shape[0]) for w in weights}

    def cpu_ms(fn, n=200):
        fn()
        c0 = time.process_time()
        for _ in range(n):
            fn()
        return (time.process_time() - c0) / n * 1e3

    with torch.no_grad():
        products = cpu_ms(lambda: [rows[w.shape[0]] @ w for w in weights])
        read = cpu_ms(lambda: [w.sum() for w in weights])
    mb = tensor_bytes(weights) / 1e6
    return {"prefill_plus_1_frame_cpu_ms": round(best[1] * 1e3, 1), "step_cpu_ms": round(step_ms, 3),
            "steps_only_frames_per_cpu_s": round(1e3 / step_ms, 1),
            "torch_ops_per_step": round(sum(per_step.values()), 1), "ops_per_step": per_step,
            "weights_mb": round(mb, 1), "floor_products_only_cpu_ms": round(products, 3),
            "floor_weight_read_cpu_ms": round(read, 3),
            "ceiling_frames_per_cpu_s_from_weight_read": round(1e3 / read, 1)}


def same_length_batches(models, sizes, new, text_len=60, prompt_len=225) -> dict:
    """Per model and batch size B: B sentences (``text_len`` ids, ``prompt_len`` prompt frames) decoded
    together for ``new`` frames each. ``frames_per_s``: all B x new frames over the whole call, prefill
    included; ``steps_frames_per_s``: the frames after the first over the time after a 1-frame call
    (prefill + first frame) on the same inputs, i.e. the AR steps alone."""
    out = {}
    for name, model in models.items():
        for B in sizes:
            x = inputs(model, [text_len] * B, [prompt_len] * B, seed=B)
            _, wall1, cpu1 = timed_decode(model, x, [1] * B)
            _, wall, cpu = timed_decode(model, x, [new] * B)
            out[f"{name}_batch{B}"] = {
                "frames_per_s": round(B * new / wall, 2), "frames_per_cpu_s": round(B * new / cpu, 2),
                "steps_frames_per_s": round(B * (new - 1) / max(wall - wall1, 1e-9), 2),
                "steps_frames_per_cpu_s": round(B * (new - 1) / max(cpu - cpu1, 1e-9), 2),
                "prefill_and_first_frame_wall_s": round(wall1, 2), "prefill_and_first_frame_cpu_s": round(cpu1, 2),
                "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
            log(name, B, out[f"{name}_batch{B}"])
    return out


def product_times(d_model=1024, ff=4096, layers=12, rows=(1, 4, 8), repeats=3, seed=0) -> dict:
    """The compiled step's weight products alone (``step_kernels.linear``) on the int8 maps of a model of this size
    (per layer the packed q/k/v, attention output and two FFN maps; random weights, one scale per output row),
    cycled so that at paper size they come from memory as in a step: ms per step and GMAC/s for each number of
    batch rows, with the 4 x 4 tiles (what a paper-size stepper uses) and with the one-weight-row loop only."""
    import numpy as np

    from valle.models import step_kernels

    g = np.random.default_rng(seed)
    shapes = [(3 * d_model, d_model), (d_model, d_model), (ff, d_model), (d_model, ff)] * layers
    maps = [(g.integers(-127, 128, size=s, dtype=np.int8), g.uniform(0.001, 0.01, s[0]).astype(np.float32),
             np.zeros(s[0], np.float32)) for s in shapes]
    macs = sum(a * b for a, b in shapes)
    out = {"weights_mb": round(macs / 1e6, 1)}
    for n in rows:
        xs = {d: g.standard_normal((n, d)).astype(np.float32) for d in (d_model, ff)}
        ys = [np.empty((n, w.shape[0]), np.float32) for w, _, _ in maps]
        res = {}
        for name, tiles in (("tiles", True), ("one_row_loop", False)):
            best = float("inf")
            for _ in range(repeats + 1):  # the first run compiles (or loads) the kernel
                t0 = time.perf_counter()
                for (w, scale, bias), y in zip(maps, ys):
                    step_kernels.linear(xs[w.shape[1]], w, scale, bias, y, False, tiles)
                best = min(best, time.perf_counter() - t0)
            res[f"{name}_ms"] = round(best * 1e3, 2)
            res[f"{name}_gmac_per_s"] = round(n * macs / best / 1e9, 1)
        out[f"rows{n}"] = res
        log("products", n, "rows", res)
    return out


PARTS = ("d256", "batch8", "int8_agreement", "dtype", "paper", "paper_batches", "paper_batch8", "paper_dtype",
         "products")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="d256 figures only (no paper-size model)")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma list of {', '.join(PARTS)}")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    args = p.parse_args(argv)
    parts = set(args.parts.split(","))
    if args.quick:
        parts -= {"paper", "paper_batch8", "paper_batches", "paper_dtype", "products"}
    if parts & {"dtype", "paper_dtype"} and not cpu_info()["native_bf16"]:  # bf16 runs ~19x slower there
        parts -= {"dtype", "paper_dtype"}
        log("dtype, paper_dtype: skipped (this CPU has no native bf16; --dtype auto is float32 here)")
    torch.set_num_threads(args.threads)
    res = {"cpu": cpu_info(), "threads": torch.get_num_threads(), "torch": torch.__version__,
           "load_average_start": [round(v, 2) for v in os.getloadavg()]}

    if parts & {"d256", "batch8", "dtype"}:
        small = build("small", d_model=256, nhead=4, num_layers=4)
    if "d256" in parts:
        x = inputs(small, [60], [225])
        # "auto" is "kernel" here; a CUDA graph needs a CUDA device
        modes = [m for m in STEP_MODES if m not in ("auto", "cuda_graph")]
        for m in modes:  # warm-up: load (or compile) the kernels, first-call allocations
            timed_decode(small, x, [2], m)
        d256, codes = compare({m: single(small, x, 150, step_mode=m) for m in modes}, args.repeats)
        d256["codes_equal"] = all(torch.equal(codes[m][0], codes["modules"][0]) for m in modes)
        for m in ("kernel", "fused"):
            d256[f"speedup_{m}"] = round(d256[m]["frames_per_s"] / d256["modules"]["frames_per_s"], 2)
            d256[f"speedup_{m}_cpu"] = round(d256[m]["frames_per_cpu_s"] / d256["modules"]["frames_per_cpu_s"], 2)
        res["d256_l4_prompt225_new150"] = d256
        res["d256_step_profile"] = {m: step_profile(small, x, step_mode=m) for m in ("kernel", "fused")}
    if "batch8" in parts:
        res["batch8_d256_l4"] = batch_curve(small, args.repeats)
    if "int8_agreement" in parts:
        res["int8_agreement"] = int8_agreement()
    if "dtype" in parts:
        res["dtype_d256_l4_prompt225_new150"] = dtype_phases(small, 150, args.repeats)
    if parts & {"paper", "paper_batch8", "paper_batches", "paper_dtype"}:
        paper_models = {"fp32": build("vallex"), "int8": build("vallex", "int8")}
        res["paper_parameters"] = sum(p.numel() for p in paper_models["fp32"].parameters())
        for m in paper_models.values():  # warm-up: load (or, after a change to the kernels, compile) them
            timed_decode(m, inputs(m, [5], [5]), [2])
    if "paper" in parts:
        xp = inputs(paper_models["fp32"], [60], [225])
        sides = {k: single(m, xp, 40) for k, m in paper_models.items()}  # int8: the kernel step ("auto")
        sides["int8_torch_step"] = single(paper_models["int8"], xp, 40, step_mode="fused")  # torch's int8 kernels
        paper, _ = compare(sides, max(1, args.repeats - 1))
        paper["int8_speedup"] = round(paper["int8"]["frames_per_s"] / paper["fp32"]["frames_per_s"], 2)
        paper["int8_kernel_vs_torch_step"] = round(paper["int8"]["frames_per_s"]
                                                   / paper["int8_torch_step"]["frames_per_s"], 2)
        res["paper_prompt225_new40"] = paper
    if "paper_batches" in parts:
        res["paper_batches_prompt225_new40"] = same_length_batches(paper_models, (1, 2, 4), 40)
    if "paper_batch8" in parts:
        res["paper_batch8_int8"] = batch_curve(paper_models["int8"], 1)
    if "products" in parts:
        res["paper_int8_products"] = product_times()
    if "paper_dtype" in parts:
        res["dtype_paper_prompt225_new20"] = dtype_phases(paper_models["fp32"], 20, max(1, args.repeats - 1))
    res["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
