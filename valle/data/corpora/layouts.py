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

import collections
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from valle.data.corpora.audio_check import AUDIO_SUFFIXES, UNSUPPORTED_SUFFIXES
from valle.data.corpora.rejects import Reject

LAYOUTS = ("ljspeech", "libritts", "pairs", "long")
# auto picks ``long`` only for files longer than this too: no single utterance lasts half a minute
LONG_RECORDING_S = 30.0
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


def walk_corpus(corpus_dir: Path, exclude: Iterable[Path] = ()) -> Iterator[Tuple[str, List[str]]]:
    """``(folder, sorted file names)`` below ``corpus_dir``, in a stable order.

    Folder symlinks are followed (a speaker folder linked in from elsewhere is part of the corpus),
    each real folder is visited once (a link loop or a second link to it adds nothing), and the
    folders in ``exclude`` (valle's own outputs, when the data dir lies inside the corpus) are skipped.
    """
    seen = {os.path.realpath(corpus_dir)} | {os.path.realpath(e) for e in exclude}
    for root, dirs, files in os.walk(corpus_dir, followlinks=True):
        keep = []
        for d in sorted(dirs):
            real = os.path.realpath(os.path.join(root, d))
            if real not in seen:
                seen.add(real)
                keep.append(d)
        dirs[:] = keep
        yield root, sorted(files)


def outputs_inside(corpus_dir: Path, output_dir: Path) -> List[Path]:
    """valle's output folders that lie inside the corpus: the manifests dir and its data dir."""
    corpus = Path(os.path.realpath(corpus_dir))
    out = [Path(os.path.realpath(output_dir))]
    if out[0].name == "manifests" and out[0].parent != corpus:
        out.append(out[0].parent)  # data/manifests: data/tokenized is an output too
    return [o for o in out if corpus in o.parents]


def list_audio_files(corpus_dir: Path, exclude: Iterable[Path] = ()) -> List[Path]:
    """Every audio file below ``corpus_dir`` (by suffix, any case), in a stable order (see walk_corpus)."""
    return [Path(root) / name for root, files in walk_corpus(corpus_dir, exclude)
            for name in files if name.lower().endswith(AUDIO_SUFFIXES + UNSUPPORTED_SUFFIXES)]


class TranscriptProblem(ValueError):
    """A transcript file that cannot be decoded; the message names the file, the byte and the fix."""


def decode_utf8(raw: bytes, where: str) -> str:
    """Strict UTF-8 (BOM allowed): a Latin-1 or UTF-16 file must not become text with U+FFFD in it."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TranscriptProblem(
            f"{where} is UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8; convert it: "
            f"`iconv -f utf-16 -t utf-8 in.txt > out.txt`"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise TranscriptProblem(
            f"{where} is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); convert it, "
            f"e.g. `iconv -f latin1 -t utf-8` for Latin-1"
        ) from None


def read_transcript(path: Path) -> str:
    """The words of a transcript file, whitespace collapsed; TranscriptProblem when it cannot be read or decoded
    (the caller rejects that one recording as ``unreadable_transcript``)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise TranscriptProblem(f"{path} cannot be read ({e.strerror or e}): check that it is a readable file") from None
    return " ".join(decode_utf8(raw, str(path)).split())


def detect_layout(corpus_dir: Path, exclude: Iterable[Path] = (), long_after: float = 20.0) -> str:
    """Name the layout of ``corpus_dir`` or raise ValueError explaining the options; ``long`` when
    most audio files are longer than ``long_after`` seconds (stage 1 passes --filter-max-duration) and
    than LONG_RECORDING_S."""
    from valle.data.long.scan import looks_long

    corpus_dir = Path(corpus_dir)
    if (corpus_dir / "metadata.csv").is_file() and (corpus_dir / "wavs").is_dir():
        return "ljspeech"
    long_after = max(long_after, LONG_RECORDING_S)
    if looks_long(corpus_dir, exclude, long_after):
        return "long"  # most files are longer than an utterance may be: segment them
    has_pair = False
    for root, files in walk_corpus(corpus_dir, exclude):
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
        f"same-stem .txt/.lab transcript (pairs), or recordings longer than {long_after:g} s (long). Fix the "
        "folder or pass --layout ljspeech|libritts|pairs|long."
    )


def _speaker_or(default: str, speaker: Optional[str]) -> str:
    return speaker if speaker else default


def metadata_field_count(rows: List[Tuple[int, List[str]]]) -> int:
    """The number of fields of a metadata.csv: 3 (id|text|normalized) or 2 (id|text), whichever most rows have."""
    counts = collections.Counter(len(f) for _, f in rows if len(f) in (2, 3))
    return counts.most_common(1)[0][0] if counts else 3


def scan_ljspeech(corpus_dir: Path, speaker: Optional[str],
                exclude: Iterable[Path] = ()) -> Tuple[List[Candidate], List[Reject]]:
    meta = corpus_dir / "metadata.csv"
    if not meta.is_file():
        raise ValueError(f"{meta} not found: the ljspeech layout needs metadata.csv (id|text|normalized) and wavs/")
    spk = _speaker_or(corpus_dir.resolve().name, speaker)
    by_stem: Dict[str, Path] = {}
    for p in list_audio_files(corpus_dir, exclude):
        by_stem.setdefault(p.stem, p)
    used = set()
    cands, rejects = [], []
    rows = [(n, line.split("|")) for n, line in enumerate(decode_utf8(meta.read_bytes(), str(meta)).splitlines(), 1)
            if line.strip()]
    usual = metadata_field_count(rows)
    for lineno, fields in rows:
        if len(fields) != usual:
            audio = by_stem.get(fields[0].strip())
            if audio is not None:
                used.add(audio)  # listed once, under this reason, not also as missing_transcript
            rejects.append(Reject(str(audio) if audio else f"{meta}:{lineno}", "bad_metadata_row",
                                  f"{meta}:{lineno} has {len(fields)} |-separated fields, the file's rows have "
                                  f"{usual} (id|text|normalized); a | inside the text? fix line {lineno}"))
            continue
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
    for p in list_audio_files(corpus_dir, exclude):
        if p not in used:
            rejects.append(Reject(str(p), "missing_transcript", "no metadata.csv row has this file's id"))
    return cands, rejects


def scan_libritts(corpus_dir: Path, speaker: Optional[str],
                exclude: Iterable[Path] = ()) -> Tuple[List[Candidate], List[Reject]]:
    cands, rejects = [], []
    for p in list_audio_files(corpus_dir, exclude):
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


def scan_pairs(corpus_dir: Path, speaker: Optional[str],
                exclude: Iterable[Path] = ()) -> Tuple[List[Candidate], List[Reject]]:
    cands, rejects = [], []
    root_name = corpus_dir.resolve().name
    for p in list_audio_files(corpus_dir, exclude):
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
