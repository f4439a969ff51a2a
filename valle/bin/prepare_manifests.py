"""Stages 0 and 1 of prepare.sh: get the corpus, then write lhotse manifests and rejects.tsv.

    python -m valle.bin.prepare_manifests --stage 1 --corpus custom --corpus-dir my_voice \
        --output-dir data/manifests --trim-silence true

Stage 0: LibriTTS is downloaded with lhotse into ``--dl-dir`` (failing fast offline); a custom
folder is checked and its layout detected. Stage 1 writes
``<prefix>_{recordings,supervisions}_<part>.jsonl.gz`` and ``rejects.tsv``; it is skipped when
a parameter stamp says the same inputs were already prepared with the same options. The work is
done in valle/data/prepare_manifests.py; this file holds the options.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from valle.data.corpora import LAYOUTS
from valle.data.prepare_manifests import stage0, stage1
from valle.data.duration_limits import add_duration_limit_options
from valle.utils.cli import str2bool
from valle.utils.logging_setup import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m valle.bin.prepare_manifests",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--stage", type=int, choices=(0, 1), required=True, help="0: get/check the corpus, 1: manifests")
    p.add_argument("--corpus", choices=("libritts", "custom"), default="custom", help="which corpus recipe")
    p.add_argument("--corpus-dir", default="", help="custom: your recordings; libritts: the LibriTTS/ folder "
                   "(empty: <dl-dir>/LibriTTS)")
    p.add_argument("--dl-dir", default="download", help="libritts: where stage 0 downloads and unpacks")
    p.add_argument("--output-dir", default="data/manifests", help="where manifests and rejects.tsv go")
    p.add_argument("--prefix", default="", help="manifest name prefix (empty: the corpus name)")
    p.add_argument("--parts", default="all", help="libritts: parts to prepare, e.g. 'dev-clean train-clean-100'")
    p.add_argument("--layout", default="auto", choices=("auto",) + LAYOUTS, help="custom folder layout")
    p.add_argument("--speaker", default="", help="custom: speaker name for every utterance (single-speaker folders)")
    p.add_argument("--trim-silence", type=str2bool, default=False, help="custom: supervisions cover only the "
                   "speech span (energy-based leading/trailing silence detection)")
    add_duration_limit_options(p, "reject")
    p.add_argument("--language", default="", help="custom: supervision.language for every utterance (optional)")
    p.add_argument("--nj", type=int, default=1, help="parallel jobs for reading audio")
    p.add_argument("--segment-min", type=float, default=2.0, help="long layout: shortest segment (s); shorter "
                   "speech between long pauses is rejected as too_short")
    p.add_argument("--segment-max", type=float, default=15.0, help="long layout: longest segment (s)")
    p.add_argument("--min-confidence", type=float, default=0.6, help="long layout: segments whose alignment/ASR "
                   "confidence (fraction of speech explained by their words) is lower are rejected")
    p.add_argument("--loudness", default="", help="long layout: write the kept segments normalised to this "
                   "loudness in LUFS (e.g. -23); empty: segments stay spans of the untouched sources")
    p.add_argument("--segments-tsv", default="", help="long layout: a corrected long_segments.tsv; rows whose "
                   "text changed are aligned again with that text, the rest is reused")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    if args.nj < 1:
        raise SystemExit(f"error: --nj must be at least 1, got {args.nj}")
    if args.min_duration < 0 or args.max_duration <= args.min_duration:
        raise SystemExit(f"error: need 0 <= --filter-min-duration < --filter-max-duration, got {args.min_duration} "
                         f"and {args.max_duration}")
    if not 0 < args.segment_min < args.segment_max or args.segment_max < 1.0:
        raise SystemExit(f"error: need 0 < --segment-min < --segment-max (at least 1 s), got {args.segment_min} and "
                         f"{args.segment_max}")
    if args.segments_tsv and not Path(args.segments_tsv).is_file():
        raise SystemExit(f"error: --segments-tsv {args.segments_tsv} is not a file: pass the long_segments.tsv "
                         "you corrected")
    try:
        (stage0 if args.stage == 0 else stage1)(args)
    except (ValueError, ConnectionError) as e:
        raise SystemExit(f"error: stage {args.stage}: {e}") from None
    except OSError as e:  # disk full, permissions: name the file; atomic writes left nothing half-done
        where = f" ({e.filename})" if e.filename else ""
        raise SystemExit(f"error: stage {args.stage}: {e.strerror or e}{where}; check free disk space and "
                         f"permissions of --output-dir {args.output_dir}, then rerun (nothing half-written was kept)"
                         ) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
