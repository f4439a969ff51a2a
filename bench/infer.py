"""Real-time factor of the full synthesis path (text -> AR -> NAR -> Encodec decode) on CPU.

Prints one JSON object.  Models: the VALL-E X layout at d_model 256 / 2 layers (the size of
tests/assets/reference/vallex_small.pt) and the ``small`` preset (d 256, 4 layers), each with and
without the AR KV cache.  Weights are random (model and codec), so the AR would stop at a
random point; to make runs comparable the AR's end-of-speech is suppressed and every run
generates exactly ``--frames`` frames (the number a ~2 s sentence needs).  The prompt is 3 s of
espeak-ng speech, as in real use.  RTF = wall time of ``Synthesizer.synthesize`` / audio seconds.

Run: ``.venv/bin/python bench/infer.py`` (well under a minute on 2 idle cores; timings on a
busy machine are meaningless, the AR loop is latency-bound).
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

TEXT = "The lighthouse keeper logged every ship that passed."
PROMPT_TEXT = "Quiet streets and open windows mark the start of summer."
MODELS = {
    "vallex_d256_2layers": ("vallex", dict(d_model=256, nhead=4, num_layers=2)),
    "small": ("small", {}),
}


def suppress_eos(model) -> None:
    """Make the AR never choose EOS: pin one feature of the final norm and give EOS -100 on it."""
    with torch.no_grad():
        norm = model.ar_decoder.norm
        norm.weight[0] = 0.0
        norm.bias[0] = 1.0
        w = model.ar_predict_layer.weight
        w[:, 0] = 0.0
        w[model.config.eos_id, 0] = -100.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--frames", type=int, default=150, help="generated frames per run (75 = 1 s)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs per configuration (best is reported)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
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

    with tempfile.TemporaryDirectory() as d:
        prompt = Path(d) / "prompt.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(prompt), PROMPT_TEXT + " " + PROMPT_TEXT],
                       check=True, capture_output=True)
        codec = load_codec("encodec:random")
        tok = get_text_tokenizer("espeak", "en-us")
        espeak_table = SymbolTable.for_corpus([t for s in (TEXT, PROMPT_TEXT) for t in tok(s).tokens]).symbols
        from valle.infer.text_ids import vallex_symbols

        results = {}
        for name, (preset, over) in MODELS.items():
            torch.manual_seed(0)
            config = get_preset(preset, **over)
            model = VALLE(config).eval()
            suppress_eos(model)
            symbols = vallex_symbols() if preset == "vallex" else espeak_table
            synth = Synthesizer(model, symbols, codec)
            prompt_codes = synth.prompt_codes(str(prompt), max_seconds=3.0)
            params = sum(p.numel() for p in model.parameters())
            for kv in (True, False):
                opts = SamplingOptions(top_k=50, seed=1, use_kv_cache=kv, max_frames=args.frames)
                warm = SamplingOptions(top_k=50, seed=1, use_kv_cache=kv, max_frames=10)
                synth.synthesize(TEXT, PROMPT_TEXT, prompt_codes, options=warm)  # warm-up (allocations, caches)
                best = None
                for _ in range(args.repeats):
                    r = synth.synthesize(TEXT, PROMPT_TEXT, prompt_codes, options=opts)
                    assert r.generated_frames == args.frames, r.generated_frames
                    if best is None or r.compute_seconds < best.compute_seconds:
                        best = r
                results[f"{name}/{'kv_cache' if kv else 'no_kv_cache'}"] = {
                    "rtf": round(best.rtf, 4),
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
        "results": results,
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
