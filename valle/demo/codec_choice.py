"""Decide which Encodec weights the demo uses: the real ones if they can be had, else seeded random.

Why: ``make demo`` must pass on a machine without network, but must never pretend.  This tries
the normal resolution (torch hub cache, then download, failing fast offline); on failure it
prints ``random`` and a banner saying the audio will not be speech.  The choice is written to
``--record`` so reruns, the prepare stage and synthesis all use the same weights, and the
synthesized wav's sidecar JSON records it as well.

Prints exactly one line on stdout: the value for ``--codec-weights`` (empty = the real weights).
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
    p.add_argument("--record", type=Path, default=Path("demo/codec_weights.json"),
                   help="where the choice is kept (reused on reruns)")
    p.add_argument("--codec-weights", default=None,
                   help="force a choice: a PATH, 'random', or 'pretrained' (default: try pretrained, else random)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    from valle.codec.encodec_model import CodecWeightsError, hub_checkpoint_path, load_encodec_model

    choice = None
    if args.codec_weights is None and args.record.is_file():
        choice = json.loads(args.record.read_text())
        if choice.get("random") and hub_checkpoint_path().is_file():
            choice = None  # the real weights have arrived since: use them
    if choice is None:
        wanted = args.codec_weights
        reason = ""
        if wanted in (None, "pretrained"):
            try:
                load_encodec_model(None)
                value = ""
                reason = "published Encodec 24 kHz weights (torch hub cache)"
            except CodecWeightsError as e:
                if wanted == "pretrained":
                    raise SystemExit(f"error: {e}")
                value = "random"
                reason = f"real weights unavailable: {e}"
        else:
            load_encodec_model(wanted)  # fail now, with its message, if a PATH is wrong
            value = wanted
            reason = "given with --codec-weights"
        choice = {"codec_weights": value, "random": value == "random", "reason": reason}
        atomic_write_text(args.record, json.dumps(choice, indent=1) + "\n")
    if choice["random"]:
        print(f"{BANNER}\nDEMO WITH RANDOM ENCODEC WEIGHTS: the published Encodec weights are not in the\n"
              f"torch hub cache and cannot be downloaded here, so the demo runs its whole pipeline\n"
              f"with seeded random codec weights. The resulting wav is NOT speech; every output's\n"
              f"metadata says so. Put encodec_24khz-d7cc33bc.th into the torch hub cache (or pass\n"
              f"CODEC_WEIGHTS=PATH) and rerun `make demo` for real audio.\n{BANNER}",
              file=sys.stderr, flush=True)
    print(choice["codec_weights"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
