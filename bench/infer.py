"""Real-time factor of the full synthesis path (text -> AR -> NAR -> Encodec decode) on CPU.

Prints one JSON object.  Models: the VALL-E X layout at d_model 256 / 2 layers (the size of
tests/assets/reference/vallex_small.pt) and the ``small`` preset (d 256, 4 layers), each with and
without the AR KV cache.  Weights are random (model and codec), so the AR would stop at a
random point; to make runs comparable the AR's end-of-speech is suppressed and every run
generates exactly ``--frames`` frames (the number a ~2 s sentence needs). ``rtf_cpu_seconds`` divides
the process's CPU time instead of wall time (less disturbed on a shared machine). Paper size, fp32
and int8 weights: ``--models vallex_paper --quantize none,int8 --no-kv-baseline --threads 1``.  The prompt is 3 s of
espeak-ng speech, as in real use.  RTF = wall time of ``Synthesizer.synthesize`` / audio seconds.

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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--frames", type=int, default=150, help="generated frames per run (75 = 1 s)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs per configuration (best is reported)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--models", default="vallex_d256_2layers,small", help=f"comma list of {', '.join(MODELS)}")
    p.add_argument("--quantize", default="none", help="comma list of none, int8 (Synthesizer quantize=)")
    p.add_argument("--no-kv-baseline", action="store_true", help="skip the runs without the KV cache")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    import logging

    logging.disable(logging.WARNING)  # the random-codec banner and guard notes are expected here
    from valle.codec import load_codec
    from valle.infer import SamplingOptions, Synthesizer
    from valle.models import VALLE, get_preset
    from valle.models.eos_suppression import suppress_eos
    from valle.text.symbol_table import SymbolTable
    from valle.text.tokenizer import get_text_tokenizer
    from valle.utils.precision import cpu_info

    with tempfile.TemporaryDirectory() as d:
        prompt = Path(d) / "prompt.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(prompt), PROMPT_TEXT + " " + PROMPT_TEXT],
                       check=True, capture_output=True)
        codec = load_codec("encodec:random")
        tok = get_text_tokenizer("espeak", "en-us")
        espeak_table = SymbolTable.for_corpus([t for s in (TEXT, PROMPT_TEXT) for t in tok(s).tokens]).symbols
        from valle.infer.text_ids import vallex_symbols

        results = {}
        for name, quantize in [(n, q) for n in args.models.split(",") for q in args.quantize.split(",")]:
            preset, over = MODELS[name]
            torch.manual_seed(0)
            config = get_preset(preset, **over)
            model = VALLE(config).eval()
            suppress_eos(model)
            symbols = vallex_symbols() if preset == "vallex" else espeak_table
            params = sum(p.numel() for p in model.parameters())
            synth = Synthesizer(model, symbols, codec, quantize=quantize)
            prompt_codes = synth.prompt_codes(str(prompt), max_seconds=3.0)
            for kv in (True,) if args.no_kv_baseline else (True, False):
                opts = SamplingOptions(top_k=50, seed=1, use_kv_cache=kv, max_frames=args.frames)
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
                tag = "" if quantize == "none" else f"/{quantize}"
                results[f"{name}{tag}/{'kv_cache' if kv else 'no_kv_cache'}"] = {
                    "rtf": round(best.rtf, 4),
                    "rtf_cpu_seconds": round(best_cpu / best.seconds, 4),
                    "compute_seconds": round(best.compute_seconds, 3),
                    "audio_seconds": round(best.seconds, 3),
                    "params": params,
                    "text_tokenizer": synth.tokenizer_name,
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
