"""Real-time factor of the full synthesis path (text -> AR -> NAR -> Encodec decode) on CPU.

Prints one JSON object.  Models: the VALL-E X layout at d_model 256 / 2 layers (the size of
tests/assets/reference/vallex_small.pt) and the ``small`` preset (d 256, 4 layers), each with and
without the AR KV cache.  Weights are random (model and codec), so the AR would stop at a
random point; to make runs comparable the AR's end-of-speech is suppressed and every run
generates exactly ``--frames`` frames (the number a ~2 s sentence needs). ``rtf_cpu_seconds`` divides
the process's CPU time instead of wall time (less disturbed on a shared machine). Paper size, fp32
and int8 weights: ``--models vallex_paper --quantize none,int8 --no-kv-baseline --threads 1``.  The prompt is 3 s of
espeak-ng speech, as in real use.  RTF = wall time of ``Synthesizer.synthesize`` / audio seconds.

Batched synthesis (``valle.bin.infer --tsv --batch-size N``): ``--batch-sizes 1,2,4,8`` times 8 sentences of
different lengths (prompts of 75..225 frames cut from the espeak-ng prompt's codes; greedy) through
``batch_synthesis.synthesize_batched`` N at a time against ``Synthesizer.synthesize`` row by row (what
``--batch-size 1`` runs), whole synthesis (AR + NAR + Encodec decode), as sentences/s and generated frames/s.

Run: ``.venv/bin/python bench/infer.py`` (well under a minute on 2 idle cores; timings on a
busy machine are meaningless, the AR loop is latency-bound).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

TEXT = "The lighthouse keeper logged every ship that passed."
PROMPT_TEXT = "Quiet streets and open windows mark the start of summer."
MODELS = {
    "vallex_d256_2layers": ("vallex", dict(d_model=256, nhead=4, num_layers=2)),
    "small": ("small", {}),
    "vallex_paper": ("vallex", {}),  # the published size, 370 M parameters (not run by default)
}


BATCH_TEXTS = [  # 8 sentences of different lengths (greedy, end of speech suppressed: each runs to its guard)
    "Yes.",
    "The lighthouse keeper logged every ship that passed.",
    "Please call Stella.",
    "Ask her to bring these things with her from the store: six spoons of fresh snow peas.",
    "We also need a small plastic snake.",
    "Five thick slabs of blue cheese, and maybe a snack for her brother Bob.",
    "The rain stopped.",
    "She can scoop these things into three red bags, and we will go meet her.",
]
BATCH_PROMPT_FRAMES = [75, 225, 150, 100, 200, 125, 175, 90]


def forbid_eos(model, quantize: str) -> float:
    """Make ``model``'s AR run to its frame limit; returns the ``min_len_ratio`` its SamplingOptions need for
    that. An fp32 model's EOS is suppressed through its weights (``suppress_eos``; ratio 0), but an EOS weight
    of -100 in the output layer would set its int8 scale and round every other weight of it to 0 (all logits
    0: greedy picks code 0 every frame), so a model to be quantized forbids EOS by a ratio no text reaches."""
    from valle.models.eos_suppression import suppress_eos

    if quantize == "none":
        suppress_eos(model)
        return 0.0
    return 1e6


def batch_results(args, prompt_wav, codec, espeak_table) -> dict:
    """Whole synthesis of BATCH_TEXTS, ``--batch-sizes`` at a time vs row by row (see the module text)."""
    from valle.infer import SamplingOptions, Synthesizer
    from valle.infer.batch_synthesis import synthesize_batched
    from valle.models import VALLE, get_preset

    from valle.models import decoding

    nar_cpu = [0.0]  # CPU seconds in the NAR (decoding.nar_decode, wrapped for this bench only)
    nar_decode = decoding.nar_decode

    def timed_nar(*a, **k):
        c0 = time.process_time()
        try:
            return nar_decode(*a, **k)
        finally:
            nar_cpu[0] += time.process_time() - c0

    decoding.nar_decode = timed_nar
    out = {}
    for name, quantize in [(n, q) for n in args.models.split(",") for q in args.quantize.split(",")]:
        preset, over = MODELS[name]
        torch.manual_seed(0)
        model = VALLE(get_preset(preset, **over)).eval()
        min_len_ratio = forbid_eos(model, quantize)
        from valle.infer.text_ids import vallex_symbols

        synth = Synthesizer(model, vallex_symbols() if preset == "vallex" else espeak_table, codec, quantize=quantize)
        full = synth.prompt_codes(str(prompt_wav))
        if full.shape[0] < max(BATCH_PROMPT_FRAMES):
            full = torch.cat([full] * (-(-max(BATCH_PROMPT_FRAMES) // full.shape[0])))
        reqs = [dict(text=t, prompt_text=PROMPT_TEXT, prompt_audio=full[:n]) for t, n in zip(BATCH_TEXTS, BATCH_PROMPT_FRAMES)]
        opts = SamplingOptions(top_k=1, max_len_ratio=args.batch_len_ratio, min_len_ratio=min_len_ratio)
        sizes = [int(v) for v in args.batch_sizes.split(",")]
        runs = {n: [] for n in sizes}
        codes = {}
        synth.synthesize(**reqs[0], options=SamplingOptions(top_k=1, max_frames=5))  # warm-up
        for _ in range(args.repeats):
            for n in sizes:
                got = {}
                nar_cpu[0] = 0.0
                t0, c0 = time.perf_counter(), time.process_time()
                if n == 1:
                    for i, r in enumerate(reqs):
                        got[i] = synth.synthesize(**r, options=opts)
                else:
                    synthesize_batched(synth, reqs, opts, n, lambda i, res: got.setdefault(i, res))
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                frames = sum(r.generated_frames for r in got.values())
                codes[n] = [got[i].codes for i in range(len(reqs))]
                runs[n].append((wall, cpu, frames, nar_cpu[0]))
                print(f"{name}{'/' + quantize if quantize != 'none' else ''} batch {n}: {frames} frames, "
                      f"{wall:.2f} s wall, {cpu:.2f} s CPU", file=sys.stderr, flush=True)
        res = {}
        for n, rs in runs.items():
            wall, cpu, frames = min(r[0] for r in rs), min(r[1] for r in rs), rs[0][2]
            res[f"batch{n}"] = {"sentences_per_s": round(len(reqs) / wall, 3), "frames_per_s": round(frames / wall, 1),
                                "sentences_per_cpu_s": round(len(reqs) / cpu, 3),
                                "frames_per_cpu_s": round(frames / cpu, 1), "frames": frames,
                                "nar_cpu_s": round(min(r[3] for r in rs), 2), "cpu_s": round(cpu, 2),
                                "all_wall_s": [round(r[0], 2) for r in rs]}
        one, top = res[f"batch{sizes[0]}"], res[f"batch{sizes[-1]}"]
        res["speedup"] = round(top["sentences_per_s"] / one["sentences_per_s"], 2)
        res["speedup_cpu"] = round(top["sentences_per_cpu_s"] / one["sentences_per_cpu_s"], 2)
        res["codes_equal"] = all(torch.equal(a, b) for n in sizes for a, b in zip(codes[n], codes[sizes[0]]))
        res["prompt_frames"] = BATCH_PROMPT_FRAMES
        c0 = time.process_time()  # the part batching leaves alone: Encodec decoding of every sentence's codes
        for c in codes[sizes[0]]:
            synth.decode(c)
        res["codec_decode_cpu_s"] = round(time.process_time() - c0, 2)
        out[f"batch_{name}{'/' + quantize if quantize != 'none' else ''}"] = res
    decoding.nar_decode = nar_decode
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--frames", type=int, default=150, help="generated frames per run (75 = 1 s)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs per configuration (best is reported)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--models", default="vallex_d256_2layers,small", help=f"comma list of {', '.join(MODELS)}")
    p.add_argument("--quantize", default="none", help="comma list of none, int8 (Synthesizer quantize=)")
    p.add_argument("--dtypes", default="float32",
                   help="comma list of float32, auto, bfloat16 (Synthesizer dtype=; int8 runs float32 and auto only)")
    p.add_argument("--no-kv-baseline", action="store_true", help="skip the runs without the KV cache")
    p.add_argument("--batch-sizes", default="", help="comma list (e.g. 1,2,4,8): time batched synthesis instead")
    p.add_argument("--batch-len-ratio", type=float, default=1.2,
                   help="with --batch-sizes: frames per text id (prompt + target) each sentence runs to")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    import logging

    logging.disable(logging.WARNING)  # the random-codec banner and guard notes are expected here
    from valle.codec import load_codec
    from valle.infer import SamplingOptions, Synthesizer
    from valle.models import VALLE, get_preset
    from valle.text.symbol_table import SymbolTable
    from valle.text.tokenizer import get_text_tokenizer
    from valle.utils.precision import cpu_info

    with tempfile.TemporaryDirectory() as d:
        prompt = Path(d) / "prompt.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(prompt), PROMPT_TEXT + " " + PROMPT_TEXT],
                       check=True, capture_output=True)
        codec = load_codec("encodec:random")
        tok = get_text_tokenizer("espeak", "en-us")
        espeak_table = SymbolTable.for_corpus([t for s in (TEXT, PROMPT_TEXT, *BATCH_TEXTS) for t in tok(s).tokens]).symbols
        from valle.infer.text_ids import vallex_symbols

        results = {}
        if args.batch_sizes:
            results = batch_results(args, prompt, codec, espeak_table)
        runs = [(n, q, dt) for n in args.models.split(",") for q in args.quantize.split(",") for dt in args.dtypes.split(",")
                if q == "none" or dt in ("float32", "auto")]  # int8 products take fp32 activations
        for name, quantize, dtype in ([] if args.batch_sizes else runs):
            preset, over = MODELS[name]
            torch.manual_seed(0)
            config = get_preset(preset, **over)
            model = VALLE(config).eval()
            min_len_ratio = forbid_eos(model, quantize)
            symbols = vallex_symbols() if preset == "vallex" else espeak_table
            params = sum(p.numel() for p in model.parameters())
            synth = Synthesizer(model, symbols, codec, quantize=quantize, dtype=dtype)
            prompt_codes = synth.prompt_codes(str(prompt), max_seconds=3.0)
            for kv in (True,) if args.no_kv_baseline else (True, False):
                opts = SamplingOptions(top_k=50, seed=1, use_kv_cache=kv, max_frames=args.frames,
                                       min_len_ratio=min_len_ratio)
                warm = SamplingOptions(top_k=50, seed=1, use_kv_cache=kv, max_frames=10)
                synth.synthesize(TEXT, PROMPT_TEXT, prompt_codes, options=warm)  # warm-up (allocations, caches)
                best = best_cpu = None
                for _ in range(args.repeats):
                    c0 = time.process_time()
                    r = synth.synthesize(TEXT, PROMPT_TEXT, prompt_codes, options=opts)
                    cpu = time.process_time() - c0
                    assert r.generated_frames == args.frames, r.generated_frames
                    if best is None or r.compute_seconds < best.compute_seconds:
                        best = r
                    best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
                tag = ("" if quantize == "none" else f"/{quantize}") + ("" if dtype == "float32" else f"/{dtype}")
                results[f"{name}{tag}/{'kv_cache' if kv else 'no_kv_cache'}"] = {
                    "rtf": round(best.rtf, 4),
                    "rtf_cpu_seconds": round(best_cpu / best.seconds, 4),
                    "compute_seconds": round(best.compute_seconds, 3),
                    "audio_seconds": round(best.seconds, 3),
                    "params": params,
                    "text_tokenizer": synth.tokenizer_name,
                    "dtype": synth.dtype, "ar_dtype": synth.ar_dtype,
                }
    print(json.dumps({
        "benchmark": "infer_rtf_cpu",
        "what": "wall time of text->AR->NAR->Encodec decode / audio seconds (lower is faster; <1 = faster than real time)",
        "generated_frames": args.frames,
        "prompt_seconds": 3.0,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpu": cpu_info(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "results": results,
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
