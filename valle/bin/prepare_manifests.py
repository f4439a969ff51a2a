"""Stages 0 and 1 of prepare.sh: get the corpus, then write lhotse manifests and rejects.tsv.

    python -m valle.bin.prepare_manifests --stage 1 --corpus custom --corpus-dir my_voice \
        --output-dir data/manifests --trim-silence true

Stage 0: LibriTTS is downloaded with lhotse into ``--dl-dir`` (failing fast offline); a custom
folder is checked and its layout detected. Stage 1 writes
``<prefix>_{recordings,supervisions}_<part>.jsonl.gz`` and ``rejects.tsv``; it is skipped when
a parameter stamp says the same inputs were already prepared with the same options.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

from valle.data.corpora import LAYOUTS, detect_layout, download_libritts_parts, prepare_custom, prepare_libritts_parts
from valle.data.corpora.layouts import outputs_inside, walk_corpus
from valle.data.corpora.libritts import parse_parts
from valle.data.duration_limits import add_duration_limit_options
from valle.utils.cli import str2bool
from valle.utils.logging_setup import setup_logging
from valle.utils.stage_stamp import StageStamp, fingerprint_files

log = logging.getLogger(__name__)


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


def parse_loudness(value: str) -> Optional[float]:
    if not str(value).strip():
        return None
    try:
        lufs = float(value)
    except ValueError:
        raise ValueError(f"--loudness takes a loudness in LUFS such as -23, got {value!r}") from None
    if not -70.0 <= lufs <= -5.0:
        raise ValueError(f"--loudness {lufs} LUFS is outside -70..-5; speech corpora use about -23 (EBU R128) to -16")
    return lufs


def _libritts_dir(args) -> Path:
    return Path(args.corpus_dir) if args.corpus_dir else Path(args.dl_dir) / "LibriTTS"


def stage0(args) -> None:
    if args.corpus == "libritts":
        parts = parse_parts(args.parts)
        if args.corpus_dir:  # the user has LibriTTS already: check it, download nothing
            missing = [p for p in parts if not (Path(args.corpus_dir) / p).is_dir()]
            if missing:
                raise ValueError(f"--corpus-dir {args.corpus_dir} lacks LibriTTS part(s) {' '.join(missing)}; "
                                 "fix --parts, or drop --corpus-dir to download into --dl-dir")
            log.info("LibriTTS parts %s present in %s", " ".join(parts), args.corpus_dir)
            return
        download_libritts_parts(args.dl_dir, parts)
        return
    if not args.corpus_dir:
        raise ValueError("--corpus-dir is required for --corpus custom: point it at your recordings")
    corpus_dir = Path(args.corpus_dir)
    if not corpus_dir.is_dir():
        raise ValueError(f"--corpus-dir {corpus_dir} is not a directory: point it at your recordings")
    layout = detect_layout(corpus_dir, long_after=args.max_duration) if args.layout == "auto" else args.layout
    log.info("custom corpus %s: layout %s%s", corpus_dir.resolve(), layout,
             " (detected)" if args.layout == "auto" else " (--layout)")


def check_writable(directory: Path, option: str) -> None:
    """Fail in a second, not after decoding every file, when the outputs cannot be written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as e:
        raise ValueError(f"{option} {directory} is not writable ({e.strerror}): fix its permissions or "
                         f"choose another folder") from None


def stage1(args) -> None:
    prefix = args.prefix or args.corpus
    out = Path(args.output_dir)
    check_writable(out, "--output-dir")
    if args.corpus == "libritts":
        corpus_dir = _libritts_dir(args)
        parts = parse_parts(args.parts)
        inputs = [p for part in parts if (corpus_dir / part).is_dir() for p in (corpus_dir / part).rglob("*") if p.is_file()]
    else:
        if not args.corpus_dir:
            raise ValueError("--corpus-dir is required for --corpus custom: point it at your recordings")
        corpus_dir = Path(args.corpus_dir)
        if not corpus_dir.is_dir():
            raise ValueError(f"--corpus-dir {corpus_dir} is not a directory: point it at your recordings")
        parts = ["all"]
        inputs = [p for root, names in walk_corpus(corpus_dir, outputs_inside(corpus_dir, out))
                  for p in (Path(root) / n for n in names) if p.is_file()]
    params = {
        "corpus": args.corpus, "corpus_dir": str(corpus_dir.resolve()), "prefix": prefix, "parts": parts,
        "layout": args.layout, "speaker": args.speaker, "trim_silence": args.trim_silence,
        "min_duration": args.min_duration, "max_duration": args.max_duration, "language": args.language,
        "inputs": fingerprint_files(inputs),
        "long": [args.segment_min, args.segment_max, args.min_confidence, args.loudness,
                 fingerprint_files([args.segments_tsv]) if args.segments_tsv else ""],
    }
    outputs = [out / "rejects.tsv"] + [out / f"{prefix}_{kind}_{part}.jsonl.gz"
                                       for part in parts for kind in ("recordings", "supervisions")]
    stamp = StageStamp(out, f"stage1_{prefix}", legacy=[out / f".stage1_{prefix}.params.json"])
    why = stamp.stale_reason(params, outputs)
    if not why:
        log.info("stage 1: manifests in %s are up to date for these parameters and inputs; skipping "
                 "(delete %s to force)", out, stamp.path)
        return
    log.info("stage 1: writing manifests in %s (%s)", out, why)
    stamp.clear()
    for stale in out.glob(".tmp-*"):  # left by a killed earlier run
        stale.unlink(missing_ok=True)
    if args.corpus == "libritts":
        prepare_libritts_parts(corpus_dir, out, parts, num_jobs=args.nj, min_duration=args.min_duration,
                               max_duration=args.max_duration, prefix=prefix)
    else:
        from valle.data.long.process import Options

        prepare_custom(corpus_dir, out, layout=args.layout, speaker=args.speaker or None,
                       trim_silence=args.trim_silence, min_duration=args.min_duration,
                       max_duration=args.max_duration, num_jobs=args.nj, prefix=prefix,
                       language=args.language or None,
                       long_options=Options(args.segment_min, args.segment_max, args.min_confidence),
                       loudness=parse_loudness(args.loudness),
                       segments_tsv=Path(args.segments_tsv) if args.segments_tsv else None)
    stamp.write(params)
    log.info("stage 1: wrote %s", ", ".join(str(o) for o in outputs))


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
