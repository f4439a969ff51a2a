"""Stages 0 and 1 of prepare.sh (driven by ``python -m valle.bin.prepare_manifests``).

Stage 0: LibriTTS is downloaded with lhotse into ``--dl-dir`` (failing fast offline); a custom
folder is checked and its layout detected. Stage 1 writes
``<prefix>_{recordings,supervisions}_<part>.jsonl.gz`` and ``rejects.tsv`` with the corpus
recipes of valle.data.corpora; it is skipped when its stage stamp (valle.utils.stage_stamp) says
the same inputs were already prepared with the same options.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Optional

from valle.data.corpora import detect_layout, download_libritts_parts, prepare_custom, prepare_libritts_parts
from valle.data.corpora.layouts import outputs_inside, walk_corpus
from valle.data.corpora.libritts import parse_parts
from valle.utils.stage_stamp import StageStamp, fingerprint_files

log = logging.getLogger(__name__)


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
    """Get (LibriTTS) or check (custom) the corpus; ``args``: valle.bin.prepare_manifests's options."""
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
    """Write the manifests and rejects.tsv, unless the stage stamp says they are current."""
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
    outputs = [out / f"{prefix}_{kind}_{part}.jsonl.gz" for part in parts for kind in ("recordings", "supervisions")]
    shared = [out / "rejects.tsv"]  # no prefix: another --prefix's stage 1 here rewrites it; digested, so a rerun redoes
    stamp = StageStamp(out, f"stage1_{prefix}", legacy=[out / f".stage1_{prefix}.params.json"])
    if stamp.up_to_date(params, outputs, shared, what=f"stage 1: manifests in {out}"):
        return
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
    stamp.write(params, shared)
    log.info("stage 1: wrote %s", ", ".join(str(o) for o in outputs + shared))
