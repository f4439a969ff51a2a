"""Decide which codec the demo uses: Encodec with the real weights if they can be had, else codec2.

Why: ``make demo`` must pass on a machine without network, but must never pretend.  This tries
the normal resolution (torch hub cache, then download, failing fast offline); on failure it
picks codec2 1200, the speech codec that needs no weights, and the demo switches to the corpus
a model learns to speak in minutes (valle/demo/grammar.py).  A banner names the codec and why.
The choice is written to ``--record`` so reruns, the prepare stage and synthesis all use the
same codec.

Prints exactly one line on stdout: the value for ``prepare.sh --codec`` (``encodec``,
``codec2:1200`` or what ``--codec`` forced, e.g. ``encodec:random`` for a plumbing run).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from valle.utils.atomic import atomic_write_text

BANNER = "=" * 78


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m valle.demo.codec_choice", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--record", type=Path, default=Path("demo/codec.json"),
                   help="where the choice is kept (reused on reruns)")
    p.add_argument("--codec", default=None,
                   help="force a choice: a --codec spec such as encodec:PATH, encodec:random, codec2:1200 or "
                        "codec2, or encodec for the published weights (default: try them, else codec2:1200)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    from valle.codec import CodecError, load_codec
    from valle.codec.encodec_model import CodecWeightsError, hub_checkpoint_path, load_encodec_model

    choice = None
    if args.codec is None and args.record.is_file():
        choice = json.loads(args.record.read_text())
        if choice.get("codec") in ("codec2", "codec2:1200", "encodec:random") and choice.get("reason") != "given with --codec" \
                and hub_checkpoint_path().is_file():
            choice = None  # the real weights have arrived since: use them
        elif choice.get("random") and choice.get("reason") != "given with --codec":
            choice = None  # an older demo's automatic random fallback: choose again
    if choice is None:
        wanted = args.codec
        reason = ""
        if wanted in (None, "encodec"):
            try:
                load_encodec_model(None)
                value = "encodec"
                reason = "published Encodec 24 kHz weights (torch hub cache)"
            except CodecWeightsError as e:
                if wanted == "encodec":
                    raise SystemExit(f"error: {e}")
                value = "codec2:1200"
                reason = (f"the published Encodec weights are unavailable ({e}); codec2 1200 needs no "
                          f"weights: 8 kHz, robotic but intelligible speech (docs/codec.md: why 1200, not 3200)")
        else:
            try:
                load_codec(wanted)  # fail now, with its message, if a PATH or name is wrong
            except CodecError as e:
                raise SystemExit(f"error: {e}")
            value = wanted
            reason = "given with --codec"
        choice = {"codec": value, "random": value == "encodec:random", "reason": reason}
        atomic_write_text(args.record, json.dumps(choice, indent=1) + "\n")
    if choice["random"]:
        print(f"{BANNER}\nDEMO WITH RANDOM ENCODEC WEIGHTS (forced with CODEC={choice['codec']}): the whole\n"
              f"pipeline runs with seeded random codec weights. The resulting wav is NOT speech; every\n"
              f"output's metadata says so. Unset CODEC for real audio.\n{BANNER}",
              file=sys.stderr, flush=True)
    else:
        print(f"{BANNER}\nDEMO CODEC: {choice['codec']}: {choice['reason']}\n{BANNER}", file=sys.stderr, flush=True)
    print(choice["codec"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
