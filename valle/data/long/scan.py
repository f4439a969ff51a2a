"""The ``long`` layout: recordings of any length, each with an optional transcript of the whole.

    book/chapter1.wav  book/chapter1.txt      # same-stem .txt/.lab: the whole recording's text
    book/chapter2.flac                         # no transcript: transcribed (pocketsphinx, English)
    book/transcripts.tsv                       # or one TSV: <audio file name or stem><TAB><text>

Recording id = ``<folder>_<stem>`` as in the pairs layout; speaker = the parent folder's name
(the corpus folder's for files at the top) unless ``--speaker``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from valle.data.corpora.audio_check import AUDIO_SUFFIXES, AudioProblem, header_info
from valle.data.corpora.layouts import (TRANSCRIPT_SUFFIXES, TranscriptProblem, decode_utf8, list_audio_files,
                                        read_transcript)
from valle.data.corpora.rejects import Reject

TRANSCRIPTS_TSV = "transcripts.tsv"


@dataclass
class LongSource:
    rec_id: str
    audio: Path
    speaker: str
    text: Optional[str]  # None: no transcript, transcribe
    transcript: str  # where the text came from, for messages ("" when none)


def read_transcripts_tsv(path: Path) -> Dict[str, Tuple[str, str]]:
    """``name -> (text, where)`` from a transcripts.tsv (name = audio file name, relative path or stem)."""
    rows = {}
    for n, line in enumerate(decode_utf8(path.read_bytes(), str(path)).splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, text = line.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{n} has no TAB: each line is <audio file name or stem><TAB><transcript>")
        rows[name.strip()] = (" ".join(text.split()), f"{path}:{n}")
    return rows


def scan_long(corpus_dir: Path, speaker: Optional[str],
              exclude: Iterable[Path] = ()) -> Tuple[List[LongSource], List[Reject]]:
    corpus_dir = Path(corpus_dir)
    tsv_path = corpus_dir / TRANSCRIPTS_TSV
    table = read_transcripts_tsv(tsv_path) if tsv_path.is_file() else {}
    root_name = corpus_dir.resolve().name
    sources, rejects = [], []
    seen = {}  # recording id -> the file that took it (folder and file names joined by "_" can collide)
    for p in list_audio_files(corpus_dir, exclude):
        try:  # never open a FIFO (it would block) nor a truncated wav (it would read short)
            header_info(p)
        except AudioProblem as e:
            rejects.append(Reject(str(p), e.reason, e.detail))
            continue
        rel = p.relative_to(corpus_dir)
        stem = p.name[: -len(p.suffix)]
        rec_id = "_".join(rel.parent.parts + (stem,))
        if rec_id in seen:
            rejects.append(Reject(str(p), "duplicate_id", f"recording id {rec_id} is already used by {seen[rec_id]}"))
            continue
        spk = speaker or (p.parent.name if len(rel.parts) > 1 else root_name)
        text, where = None, ""
        beside = next((p.with_name(stem + s) for s in TRANSCRIPT_SUFFIXES if p.with_name(stem + s).is_file()), None)
        try:
            if beside is not None:
                text, where = read_transcript(beside), str(beside)
            else:
                for key in (str(rel), p.name, stem):
                    if key in table:
                        text, where = table[key]
                        break
        except TranscriptProblem as e:
            rejects.append(Reject(str(p), "unreadable_transcript", str(e)))
            continue
        if text is not None and not text:
            rejects.append(Reject(str(p), "empty_transcript", f"{where} has no text (delete it to have the "
                                                              f"recording transcribed instead)"))
            continue
        seen[rec_id] = p
        sources.append(LongSource(rec_id, p, spk, text, where))
    return sources, rejects


def looks_long(corpus_dir: Path, exclude: Iterable[Path], limit: float) -> bool:
    """True when most audio files (by their headers) are longer than ``limit`` seconds."""
    import soundfile as sf

    files = [p for p in list_audio_files(corpus_dir, exclude) if p.name.lower().endswith(AUDIO_SUFFIXES)]
    if not files:
        return False
    long_ones = 0
    for p in files[:200]:
        try:
            if os.path.isfile(p) and sf.info(str(p)).duration > limit:
                long_ones += 1
        except Exception:  # unreadable files are stage 1's business
            continue
    return long_ones * 2 > min(len(files), 200)
