"""Peak memory of Encodec decoding for long synthesis: all codes in one pass vs one sentence chunk at a time.

``Synthesizer.decode_pieces`` decodes each sentence chunk on its own (issue 19: a 2,000-word text
peaked near 4.8 GB RSS when its 273 s of codes went through the decoder at once). Each mode runs
in a fresh subprocess and reports its peak RSS (``ru_maxrss``); the codes are random, the codec
has random weights (memory does not depend on the weights). Prints one JSON object.

Run: ``.venv/bin/python bench/decode_memory.py --seconds 120 --chunk-seconds 12``.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

FRAMES_PER_SECOND = 75


def child(mode: str, seconds: float, chunk_seconds: float) -> dict:
    import torch

    from valle.data.codec import load_codec
    from valle.infer.synthesizer import Synthesizer

    synth = Synthesizer.__new__(Synthesizer)  # only the decode path: no model, no text frontend
    synth.codec, synth.device = load_codec("random", device="cpu"), torch.device("cpu")
    frames, step = int(seconds * FRAMES_PER_SECOND), int(chunk_seconds * FRAMES_PER_SECOND)
    codes = torch.randint(0, 1024, (frames, 8), generator=torch.Generator().manual_seed(0))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if mode == "one_pass":
        wav = synth.decode(codes)
    else:
        wav = synth.decode_pieces(list(codes.split(step)))
    return {"mode": mode, "audio_s": wav.numel() / 24000, "decode_s": round(time.perf_counter() - start, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "rss_before_decode_mb": round(base / 1024)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=120.0, help="audio length to decode")
    p.add_argument("--chunk-seconds", type=float, default=12.0, help="one sentence chunk (200 characters ~ 12 s)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.seconds, args.chunk_seconds)))
        return
    runs = []
    for mode in ("one_pass", "per_chunk"):
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--seconds", str(args.seconds),
                              "--chunk-seconds", str(args.chunk_seconds)], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    print(json.dumps({"cpu": cpu, "seconds": args.seconds, "chunk_seconds": args.chunk_seconds, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
