"""AR decoding speed, printed as one JSON object: the fused step against the module path, int8 against
fp32 at paper size, and 8 sentences in one batch against one by one.

    OMP_NUM_THREADS=1 .venv/bin/python bench/decode.py [--quick] [--threads 1]

Every comparison is timed in the same run, alternating its two sides ``--repeats`` times (the best
of each is reported, with all runs), as wall-clock frames/s and as frames per CPU-second of this
process (the second is what a busy shared machine disturbs least). The CPU model, its SIMD flags,
torch's dispatch level and the load average at the start and end are printed with the figures.
Weights are random; EOS is forbidden (a forward hook on the output layer) so every run makes the
requested frames.

- ``d256_l4``: the ``small`` size (d256 / 4 heads / 4 layers), 150 frames after a 225-frame
  prompt and 60 text tokens, greedy: ``fused`` (FusedARStep, the default) vs ``modules``
  (``step_mode="modules"``, the decoder modules with the KV cache); their codes must be equal.
- ``paper`` (not with ``--quick``): the ``vallex`` preset (370 M parameters), 40 frames after a
  225-frame prompt, prefill included: fp32 vs ``--quantize int8``; and 8 sentences in one batch.
- ``batch8``: 8 sentences of 20..90 text tokens and prompts of 75..225 frames, 40..110 new frames
  each, decoded as one batch vs one call per sentence (d256/4, and int8 paper size without --quick).
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
from valle.models.decoding import ar_decode  # noqa: E402
from valle.models.quantize import quantize_for_synthesis  # noqa: E402
from valle.utils.precision import cpu_info  # noqa: E402


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def forbid_eos(model) -> None:
    eos = torch.tensor([model.config.eos_id])
    model.ar_predict_layer.register_forward_hook(lambda m, i, out: out.index_fill(-1, eos, float("-inf")))


def build(preset: str, quantize: str = "none", **over) -> VALLE:
    torch.manual_seed(0)
    model = quantize_for_synthesis(VALLE(get_preset(preset, **over)).eval(), quantize)
    forbid_eos(model)
    return model


def inputs(model, text_lens, prompt_lens, seed=0):
    g = torch.Generator().manual_seed(seed)
    B, S, P = len(text_lens), max(text_lens), max(prompt_lens)
    vocab = model.config.text_vocab_size
    return dict(text=torch.randint(0, vocab, (B, S), generator=g), text_lens=torch.tensor(text_lens),
                prompt=torch.randint(0, 1024, (B, P), generator=g), prompt_lens=torch.tensor(prompt_lens))


def timed_decode(model, x, new_frames, step_mode="fused"):
    """(codes, wall s, CPU s) of one greedy ar_decode call."""
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.no_grad():
        r = ar_decode(model, x["text"], x["text_lens"], None, x["prompt"], x["prompt_lens"],
                      torch.tensor(new_frames), top_k=1, step_mode=step_mode)
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


def single(model, x, n, step_mode="fused"):
    def fn():
        c, w, cpu = timed_decode(model, x, [n] * len(x["text_lens"]), step_mode)
        return c, n * len(c), w, cpu
    return fn


def batch_vs_one_by_one(model, repeats):
    text_lens = [20, 90, 35, 60, 45, 75, 30, 50]
    prompt_lens = [75, 225, 150, 100, 200, 125, 175, 90]
    new = [40, 110, 60, 90, 70, 100, 50, 80]
    x = inputs(model, text_lens, prompt_lens, seed=1)

    def together():
        c, w, cpu = timed_decode(model, x, new)
        return c, sum(new), w, cpu

    def one_by_one():
        codes, wall, cpu = [], 0.0, 0.0
        for i in range(len(new)):
            xi = inputs(model, [text_lens[i]], [prompt_lens[i]], seed=1)
            xi["text"] = x["text"][i: i + 1, : text_lens[i]]
            xi["prompt"] = x["prompt"][i: i + 1, : prompt_lens[i]]
            c, w, cu = timed_decode(model, xi, [new[i]])
            codes += c
            wall, cpu = wall + w, cpu + cu
        return codes, sum(new), wall, cpu

    res, codes = compare({"batch": together, "one_by_one": one_by_one}, repeats)
    res["speedup"] = round(res["batch"]["frames_per_s"] / res["one_by_one"]["frames_per_s"], 2)
    res["speedup_cpu"] = round(res["batch"]["frames_per_cpu_s"] / res["one_by_one"]["frames_per_cpu_s"], 2)
    res["codes_equal"] = all(torch.equal(a, b) for a, b in zip(codes["batch"], codes["one_by_one"]))
    return res


def int8_agreement():
    sys.path.insert(0, str(ROOT / "tests" / "models"))
    from conftest import case_inputs

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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="d256 figures only (no paper-size model)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    res = {"cpu": cpu_info(), "threads": torch.get_num_threads(), "torch": torch.__version__,
           "load_average_start": [round(v, 2) for v in os.getloadavg()]}

    small = build("small", d_model=256, nhead=4, num_layers=4)
    x = inputs(small, [60], [225])
    d256, codes = compare({"fused": single(small, x, 150), "modules": single(small, x, 150, step_mode="modules")},
                          args.repeats)
    d256["codes_equal"] = torch.equal(codes["fused"][0], codes["modules"][0])
    d256["speedup"] = round(d256["fused"]["frames_per_s"] / d256["modules"]["frames_per_s"], 2)
    d256["speedup_cpu"] = round(d256["fused"]["frames_per_cpu_s"] / d256["modules"]["frames_per_cpu_s"], 2)
    res["d256_l4_prompt225_new150"] = d256
    res["batch8_d256_l4"] = batch_vs_one_by_one(small, args.repeats)
    res["int8_agreement"] = int8_agreement()
    if not args.quick:
        fp32 = build("vallex")
        res["paper_parameters"] = sum(p.numel() for p in fp32.parameters())
        xp = inputs(fp32, [60], [225])
        int8 = build("vallex", "int8")
        paper, _ = compare({"fp32": single(fp32, xp, 40), "int8": single(int8, xp, 40)}, max(1, args.repeats - 1))
        paper["int8_speedup"] = round(paper["int8"]["frames_per_s"] / paper["fp32"]["frames_per_s"], 2)
        res["paper_prompt225_new40"] = paper
        del fp32
        res["paper_batch8_int8"] = batch_vs_one_by_one(int8, 1)
    res["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
