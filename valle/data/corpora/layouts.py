"""Custom corpus layouts: find (audio, transcript, speaker) triples in a user's folder.

Three layouts people actually have on disk:
- ``ljspeech``: ``metadata.csv`` with ``id|text|normalized text`` rows and audio in ``wavs/``;
- ``libritts``: ``<speaker>/<chapter>/<utt>.wav`` with ``<utt>.normalized.txt`` (preferred) or
  ``<utt>.original.txt`` beside it;
- ``pairs``: any audio file with a same-stem ``.txt`` or ``.lab`` beside it, speaker = the
  parent folder's name.
A scanner only pairs files up; it reports audio without transcript (and transcript lines
without audio) as rejects, and leaves decoding and duration checks to stage 1 proper.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from valle.data.corpora.audio_check import AUDIO_SUFFIXES
from valle.data.corpora.rejects import Reject

LAYOUTS = ("ljspeech", "libritts", "pairs")
TRANSCRIPT_SUFFIXES = (".txt", ".lab")


@dataclass
class Candidate:
    """One utterance found by a scanner, not yet checked."""

    utt_id: str
    audio: Path
    speaker: str
    text: str  # may be empty: checked later so the reject names the audio file
    transcript: str  # where the text came from (file or metadata line), for messages
    custom: Dict[str, str] = field(default_factory=dict)


def list_audio_files(corpus_dir: Path) -> List[Path]:
    """Every audio file below ``corpus_dir`` (by suffix, any case), in a stable order."""
    found = []
    for root, dirs, files in os.walk(corpus_dir):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(AUDIO_SUFFIXES):
                found.append(Path(root) / name)
    return found


class TranscriptProblem(ValueError):
    """A transcript file that cannot be decoded; the message names the file, the byte and the fix."""


def decode_utf8(raw: bytes, where: str) -> str:
    """Strict UTF-8 (BOM allowed): a Latin-1 or UTF-16 file must not become text with U+FFFD in it."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise TranscriptProblem(
            f"{where} is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); convert it, "
            f"e.g. `iconv -f latin1 -t utf-8` for Latin-1"
        ) from None


def read_transcript(path: Path) -> str:
    return " ".join(decode_utf8(path.read_bytes(), str(path)).split())


def detect_layout(corpus_dir: Path) -> str:
    """Name the layout of ``corpus_dir`` or raise ValueError explaining the three options."""
    corpus_dir = Path(corpus_dir)
    if (corpus_dir / "metadata.csv").is_file() and (corpus_dir / "wavs").is_dir():
        return "ljspeech"
    has_pair = False
    for root, _, files in os.walk(corpus_dir):
        names = set(files)
        if any(n.endswith((".normalized.txt", ".original.txt")) for n in names):
            return "libritts"
        if not has_pair:
            for n in names:
                stem, suffix = os.path.splitext(n)
                if suffix.lower() in AUDIO_SUFFIXES and any(stem + t in names for t in TRANSCRIPT_SUFFIXES):
                    has_pair = True
                    break
    if has_pair:
        return "pairs"
    raise ValueError(
        f"cannot detect the layout of {corpus_dir}: expected metadata.csv + wavs/ (ljspeech), "
        "<speaker>/<chapter>/<utt>.wav with <utt>.normalized.txt (libritts), or audio files with a "
        "same-stem .txt/.lab transcript (pairs). Fix the folder or pass --layout ljspeech|libritts|pairs."
    )


def _speaker_or(default: str, speaker: Optional[str]) -> str:
    return speaker if speaker else default


def scan_ljspeech(corpus_dir: Path, speaker: Optional[str]) -> Tuple[List[Candidate], List[Reject]]:
    meta = corpus_dir / "metadata.csv"
    if not meta.is_file():
        raise ValueError(f"{meta} not found: the ljspeech layout needs metadata.csv (id|text|normalized) and wavs/")
    spk = _speaker_or(corpus_dir.resolve().name, speaker)
    by_stem: Dict[str, Path] = {}
    for p in list_audio_files(corpus_dir):
        by_stem.setdefault(p.stem, p)
    used = set()
    cands, rejects = [], []
    for lineno, line in enumerate(decode_utf8(meta.read_bytes(), str(meta)).splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("|")
        utt_id = fields[0].strip()
        original = " ".join(fields[1].split()) if len(fields) > 1 else ""
        normalized = " ".join(fields[2].split()) if len(fields) > 2 else ""
        where = f"{meta}:{lineno}"
        audio = by_stem.get(utt_id)
        if audio is None:
            rejects.append(Reject(where, "missing_audio", f"no audio file named {utt_id}.<wav|flac|mp3|ogg|opus>"))
            continue
        if audio in used:
            rejects.append(Reject(where, "duplicate_id", f"id {utt_id} appears on more than one line of metadata.csv"))
            continue
        used.add(audio)
        cands.append(Candidate(utt_id, audio, spk, normalized or original, where, {"orig_text": original}))
    for p in list_audio_files(corpus_dir):
        if p not in used:
            rejects.append(Reject(str(p), "missing_transcript", "no metadata.csv row has this file's id"))
    return cands, rejects


def scan_libritts(corpus_dir: Path, speaker: Optional[str]) -> Tuple[List[Candidate], List[Reject]]:
    cands, rejects = [], []
    for p in list_audio_files(corpus_dir):
        stem = p.name[: -len(p.suffix)]
        norm = p.with_name(stem + ".normalized.txt")
        orig = p.with_name(stem + ".original.txt")
        if not norm.is_file() and not orig.is_file():
            rejects.append(Reject(str(p), "missing_transcript", f"neither {norm.name} nor {orig.name} exists"))
            continue
        try:
            original = read_transcript(orig) if orig.is_file() else ""
            text = read_transcript(norm) if norm.is_file() else original
        except TranscriptProblem as e:
            rejects.append(Reject(str(p), "unreadable_transcript", str(e)))
            continue
        # <speaker>/<chapter>/<utt>.wav, possibly below a part folder (dev-clean/...)
        rel = p.relative_to(corpus_dir)
        if len(rel.parts) >= 3:
            spk_default = rel.parts[-3]
        elif len(rel.parts) == 2:
            spk_default = rel.parts[0]
        else:
            spk_default = corpus_dir.resolve().name
        cands.append(
            Candidate(stem, p, _speaker_or(spk_default, speaker), text, str(norm if norm.is_file() else orig),
                      {"orig_text": original or text})
        )
    return cands, rejects


def scan_pairs(corpus_dir: Path, speaker: Optional[str]) -> Tuple[List[Candidate], List[Reject]]:
    cands, rejects = [], []
    root_name = corpus_dir.resolve().name
    for p in list_audio_files(corpus_dir):
        stem = p.name[: -len(p.suffix)]
        candidates = [p.with_name(stem + s) for s in TRANSCRIPT_SUFFIXES]
        transcript = next((t for t in candidates if t.is_file()), None)
        if transcript is None:
            rejects.append(Reject(str(p), "missing_transcript", f"no {stem}.txt or {stem}.lab beside it"))
            continue
        rel = p.relative_to(corpus_dir)
        spk_default = p.parent.name if len(rel.parts) > 1 else root_name
        utt_id = "_".join(rel.parent.parts + (stem,))
        try:
            text = read_transcript(transcript)
        except TranscriptProblem as e:
            rejects.append(Reject(str(p), "unreadable_transcript", str(e)))
            continue
        cands.append(Candidate(utt_id, p, _speaker_or(spk_default, speaker), text, str(transcript),
                               {"orig_text": text}))
    return cands, rejects


SCANNERS = {"ljspeech": scan_ljspeech, "libritts": scan_libritts, "pairs": scan_pairs}
