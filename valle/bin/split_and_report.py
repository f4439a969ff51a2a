"""Stage 4 of prepare.sh: merge shards, filter by duration, write train/dev/test and a report.

    python -m valle.bin.split_and_report --tokenized-dir data/tokenized --manifests-dir data/manifests \
        --prefix custom --corpus custom --dev-size 0.05 --test-size 20

LibriTTS splits by part (train = train-* parts, dev = dev-clean, test = test-clean, changeable);
a custom corpus draws dev and test at random (counts or fractions, fixed ``--seed``, optionally
whole speakers). Cuts removed by the duration filter are listed in the report, never dropped
silently. Skipped when a parameter stamp says the same inputs were split with the same options.
The work is done in valle/data/split_and_report.py; this file holds the options.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from valle.data.duration_limits import add_duration_limit_options
from valle.data.split_and_report import split_and_report
from valle.utils.cli import str2bool
from valle.utils.logging_setup import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m valle.bin.split_and_report",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--tokenized-dir", default="data/tokenized", help="stage-3 cuts in, splits and report/ out")
    p.add_argument("--manifests-dir", default="data/manifests", help="where stage 1 wrote rejects.tsv")
    p.add_argument("--prefix", default="custom", help="cut file prefix: <prefix>_cuts_<part>.jsonl.gz")
    p.add_argument("--corpus", choices=("libritts", "custom"), default="custom", help="split by parts (libritts) or at random (custom)")
    add_duration_limit_options(p, "drop (and list)")
    p.add_argument("--dev-size", default="0.05", help="custom: dev utterances, a count (20) or a fraction (0.05)")
    p.add_argument("--test-size", default="0.05", help="custom: test utterances, a count or a fraction")
    p.add_argument("--seed", type=int, default=42, help="custom: seed of the dev/test draw")
    p.add_argument("--split-by-speaker", type=str2bool, default=False, help="custom: draw whole speakers for dev/test")
    p.add_argument("--train-parts", default="train-clean-100 train-clean-360 train-other-500", help="libritts: train parts")
    p.add_argument("--dev-parts", default="dev-clean", help="libritts: dev parts")
    p.add_argument("--test-parts", default="test-clean", help="libritts: test parts")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    try:
        split_and_report(args)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
