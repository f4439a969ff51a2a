"""Rejected input files: why a file did not make it into the manifests, written to rejects.tsv.

Stage 1 promises that every input audio file ends up either in a manifest or here, so a user
can see at a glance what was dropped and how to fix it. The reason names are stable strings
(tests and the stage-4 report count them); ``detail`` is free text for the human.
"""
from __future__ import annotations

import collections
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List

from valle.utils.atomic import atomic_path

REJECTS_HEADER = ("path", "reason", "detail")

# reason -> what to do about it (printed with the counts)
REJECT_REASONS: Dict[str, str] = {
    "unreadable_audio": "the file cannot be opened or decoded; re-export it (e.g. `sox in out.wav`)",
    "corrupt_audio": "the file is truncated or damaged; re-export or re-copy it",
    "zero_duration": "the file holds no samples (or only silence after --trim-silence)",
    "too_short": "shorter than --filter-min-duration; lower --filter-min-duration to keep it",
    "too_long": "longer than --filter-max-duration; raise --filter-max-duration (e.g. --filter-max-duration 30) or split the file",
    "missing_transcript": "no transcript for this audio; add a same-stem .txt/.lab (pairs), a metadata.csv row "
    "(ljspeech) or a .normalized.txt/.original.txt (libritts)",
    "empty_transcript": "the transcript is empty; write the spoken text into it",
    "unreadable_transcript": "the transcript cannot be read as UTF-8 text: the detail says why (convert it, e.g. `iconv -f latin1 -t utf-8 in.txt > out.txt`, or make it readable)",
    "duplicate_id": "another file already uses this utterance id; rename one of them",
    "missing_audio": "a transcript names audio that does not exist; add the audio or drop the line",
    "not_a_regular_file": "a FIFO, device or socket named like audio; only regular files are read",
    "unsupported_format": "a format libsndfile cannot decode (AAC/ALAC in .m4a, .aac, .wma); convert it to wav "
    "with ffmpeg",
    "bad_metadata_row": "a metadata.csv row with another number of |-separated fields than the others (a | "
    "inside the text?); fix the row",
    "over_full_scale": "float samples far beyond full scale (+-1); normalise it (e.g. `sox --norm=-1 in.wav out.wav`)",
    "text_audio_mismatch": "far more transcript characters per second than anyone speaks; the transcript or "
    "the audio is wrong",
    # long layout (one row per segment: <source>@<start>-<end>)
    "low_confidence": "a segment's words fit its audio badly (wrong transcript, mumbling, noise); fix its text in "
    "long_segments.tsv and rerun with --segments-tsv, or lower --min-confidence",
    "no_words": "a segment in which no transcript word was heard (speech the transcript lacks, or noise taken for "
    "speech); write its words in long_segments.tsv and rerun with --segments-tsv",
    "not_speech": "a stretch of sound (noise, music) with no speech in it; nothing to do unless it was speech",
    "transcript_left_over": "transcript words that no segment was aligned to (text the recording does not say, or "
    "in rejected segments); check the transcript",
}


@dataclass(frozen=True)
class Reject:
    path: str
    reason: str
    detail: str = ""

    def __post_init__(self):
        if self.reason not in REJECT_REASONS:
            raise ValueError(f"unknown reject reason {self.reason!r}; known: {sorted(REJECT_REASONS)}")


@dataclass(frozen=True)
class _LooseReject:
    """A reject row read back from disk; its reason may come from another stage."""

    path: str
    reason: str
    detail: str = ""


def _clean(field: str) -> str:
    return " ".join(str(field).split())  # no tabs/newlines inside a TSV field


def write_rejects(path: Path, rejects: Iterable[Reject]) -> None:
    """Write rejects.tsv (header line, then one row per file, sorted by path) atomically."""
    rows = sorted(rejects, key=lambda r: (r.path, r.reason))
    lines = ["\t".join(REJECTS_HEADER)]
    lines += ["\t".join((_clean(r.path), r.reason, _clean(r.detail))) for r in rows]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_rejects(path: Path) -> List[Reject]:
    """Read a rejects TSV (ours or stage 2's text_rejects.tsv); unknown reasons are kept as text."""
    out = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            return out
        for row in reader:
            if not row:
                continue
            row = (row + ["", "", ""])[:3]
            out.append(_LooseReject(*row))
    return out


def count_reasons(rejects: Iterable) -> Dict[str, int]:
    return dict(sorted(collections.Counter(r.reason for r in rejects).items()))


def format_counts(kept: int, rejects: List[Reject]) -> str:
    """Human summary: how many files were kept and, per reason, how many were rejected and why."""
    lines = [f"kept {kept} utterances, rejected {len(rejects)} files"]
    for reason, n in count_reasons(rejects).items():
        lines.append(f"  {reason:<20} {n:>6}  ({REJECT_REASONS.get(reason, '')})")
    return "\n".join(lines)
