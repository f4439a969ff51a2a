"""LibriTTS: download (stage 0, lhotse's downloader) and manifests (stage 1, read here).

Stage 1 reads each chapter's ``<spk>_<chap>.trans.tsv`` (utterance, original text, normalized
text), the SNR column of its ``.book.tsv`` and the genders in ``SPEAKERS.txt``, and judges every
wav where it reads its header. The manifests carry what lhotse's LibriTTS recipe puts in them
(ids = utterance ids, text = the normalized text, speaker, gender, language, ``orig_text`` and
``snr``), and every file that is not kept is a row of rejects.tsv with its reason: a wav without
a transcript line, a line without a wav, an unreadable, truncated or empty wav, a duration outside
the limits.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from valle.data.corpora.audio_check import AudioInfo, AudioProblem, header_info
from valle.data.corpora.custom import build_manifests
from valle.data.corpora.layouts import Candidate, TranscriptProblem, decode_utf8, list_audio_files, walk_corpus
from valle.utils.progress import progress
from valle.data.corpora.rejects import Reject, format_counts, write_rejects
from valle.utils.atomic import atomic_save_manifest
from valle.utils.network import can_reach

LIBRITTS_PARTS = (
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
)
OPENSLR_HOST = "www.openslr.org"
# The one wav the LibriTTS release ships damaged (lhotse's recipe leaves it out too).
KNOWN_CORRUPT = ("1092_134562_000013_000004.wav",)


def parse_parts(parts: Optional[Sequence[str]]) -> List[str]:
    """``all``/None -> the 7 parts; otherwise validate each name (comma or space separated)."""
    if parts is None:
        return list(LIBRITTS_PARTS)
    if isinstance(parts, str):
        parts = [parts]
    names = [p for item in parts for p in item.replace(",", " ").split()]
    if not names or names == ["all"]:
        return list(LIBRITTS_PARTS)
    bad = [p for p in names if p not in LIBRITTS_PARTS]
    if bad:
        raise ValueError(f"unknown LibriTTS part(s) {bad} in --parts; choose from: all {' '.join(LIBRITTS_PARTS)}")
    return names


def download_libritts_parts(dl_dir, parts=None, base_url: str = "http://www.openslr.org/resources") -> Path:
    """Download and unpack the LibriTTS ``parts`` into ``dl_dir/LibriTTS`` (lhotse's downloader).

    Parts already on disk are skipped. Without internet this fails within seconds, saying how
    to provide the corpus by hand.
    """
    dl_dir = Path(dl_dir)
    parts = parse_parts(parts)
    missing = [p for p in parts if not (dl_dir / "LibriTTS" / p).is_dir()]
    for p in parts:
        if p not in missing:
            print(f"LibriTTS {p}: already present in {dl_dir / 'LibriTTS' / p}, not downloading", flush=True)
    if not missing:
        return dl_dir
    if not can_reach(OPENSLR_HOST):
        raise ConnectionError(
            f"cannot reach {OPENSLR_HOST} to download LibriTTS part(s) {' '.join(missing)}: no internet here. "
            f"Download https://www.openslr.org/60/ on a connected machine, unpack so that "
            f"{dl_dir / 'LibriTTS' / missing[0]} exists (or pass --dl-dir to where LibriTTS/ is), "
            "then rerun from --stage 1."
        )
    from lhotse.recipes.libritts import download_libritts

    download_libritts(target_dir=dl_dir, dataset_parts=missing, base_url=base_url)
    return dl_dir


def read_speaker_genders(corpus_dir: Path) -> Dict[str, str]:
    """``SPEAKERS.txt`` (``READER | GENDER | SUBSET | MINUTES | NAME`` rows, ``;`` comments) ->
    {speaker: gender}; empty when the file is absent."""
    path = corpus_dir / "SPEAKERS.txt"
    if not path.is_file():
        return {}
    genders = {}
    for line in decode_utf8(path.read_bytes(), str(path)).splitlines():
        fields = [f.strip() for f in line.split("|")]
        if line.startswith(";") or len(fields) < 2:
            continue
        genders[fields[0]] = fields[1]
    return genders


def _book_snr(trans_path: Path) -> Dict[str, float]:
    """{utterance: SNR} from the chapter's ``.book.tsv`` (its last column), when it is there."""
    book = trans_path.with_name(trans_path.name[: -len(".trans.tsv")] + ".book.tsv")
    snr = {}
    if book.is_file():
        for line in book.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split()
            if len(fields) >= 2:
                try:
                    snr[fields[0]] = float(fields[-1])
                except ValueError:
                    pass
    return snr


def read_part_transcripts(part_dir: Path) -> Tuple[Dict[str, Tuple[str, str, Path, Optional[float]]], List[Reject]]:
    """Every chapter's ``<spk>_<chap>.trans.tsv`` (``utt \t original \t normalized``) ->
    {utt: (normalized, original, trans.tsv, snr)}; lines that cannot be read are rejects."""
    lines: Dict[str, Tuple[str, str, Path, Optional[float]]] = {}
    rejects: List[Reject] = []
    for root, names in walk_corpus(part_dir):
        for name in names:
            if not name.endswith(".trans.tsv") or name.startswith("._"):
                continue
            trans = Path(root) / name
            try:
                text = decode_utf8(trans.read_bytes(), str(trans))
            except (TranscriptProblem, OSError) as e:
                rejects.append(Reject(str(trans), "unreadable_transcript", str(e)))
                continue
            snr = _book_snr(trans)
            for number, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                fields = line.split("\t")
                if len(fields) != 3:
                    rejects.append(Reject(str(trans), "bad_metadata_row",
                                          f"line {number} has {len(fields)} tab-separated fields, not 3 "
                                          "(utterance, original text, normalized text)"))
                    continue
                utt, original, normalized = (f.strip() for f in fields)
                lines[utt] = (normalized, original, trans, snr.get(utt))
    return lines, rejects


def scan_libritts_part(part_dir: Path) -> Tuple[List[Candidate], List[Reject]]:
    """The utterances of one part: each wav with its ``.trans.tsv`` line, every other file a reject.

    A wav without a line, a line without a wav, macOS ``._`` files and the one file LibriTTS is
    known to ship broken are all listed in rejects.tsv with their reason.
    """
    lines, rejects = read_part_transcripts(part_dir)
    cands: List[Candidate] = []
    found = set()
    for wav in list_audio_files(part_dir):
        stem = wav.name[: -len(wav.suffix)]
        if wav.name.startswith("._"):
            rejects.append(Reject(str(wav), "unreadable_audio", "macOS resource-fork file, not audio"))
        elif wav.name in KNOWN_CORRUPT:
            rejects.append(Reject(str(wav), "corrupt_audio", "known corrupt LibriTTS file (damaged in the release)"))
        elif stem not in lines:
            rejects.append(Reject(str(wav), "missing_transcript", "no line in the chapter's .trans.tsv"))
        else:
            normalized, original, trans, snr = lines[stem]
            found.add(stem)
            cands.append(Candidate(stem, wav, stem.split("_")[0], normalized, str(trans),
                                   {"orig_text": original, "snr": snr}))
    for utt, (_text, _orig, trans, _snr) in lines.items():
        if utt not in found and not (trans.parent / f"{utt}.wav").exists():
            rejects.append(Reject(str(trans.parent / f"{utt}.wav"), "missing_audio", f"{trans} names {utt}, "
                                  "but its wav is not there"))
    return cands, rejects


def probe_header(path: Path) -> Union[AudioInfo, Tuple[str, str]]:
    """What LibriTTS needs to know about a wav, from its header: a FIFO or device is refused
    unopened, a truncated data chunk is corrupt, a file libsndfile cannot open is unreadable."""
    try:
        info = header_info(path)
    except AudioProblem as e:
        return e.reason, e.detail
    if info.frames == 0:
        return "zero_duration", "the file holds no samples"
    return AudioInfo(info.samplerate, info.channels, info.frames, 0.0, info.frames / info.samplerate)


def prepare_libritts_parts(
    corpus_dir,
    output_dir,
    parts=None,
    num_jobs: int = 1,
    min_duration: float = 0.5,
    max_duration: float = 20.0,
    prefix: str = "libritts",
) -> Dict[str, Dict]:
    """Manifests for the chosen LibriTTS parts; returns ``{part: {"recordings", "supervisions"}}``."""
    from lhotse import SupervisionSet
    from lhotse.utils import fastcopy

    corpus_dir = Path(corpus_dir)
    output_dir = Path(output_dir)
    parts = parse_parts(parts)
    absent = [p for p in parts if not (corpus_dir / p).is_dir()]
    if absent:
        raise ValueError(
            f"LibriTTS part folder(s) missing in {corpus_dir}: {' '.join(absent)}. Run stage 0 (download), "
            "point --dl-dir at the folder holding LibriTTS/ (or --corpus-dir at LibriTTS/ itself), "
            "or choose other parts with --parts."
        )
    rejects: List[Reject] = []
    result = {}
    genders = read_speaker_genders(corpus_dir)
    for part in parts:
        cands, part_rejects = scan_libritts_part(corpus_dir / part)
        with ThreadPoolExecutor(max(1, num_jobs)) as pool:  # header reads: threads are enough
            infos = list(progress(pool.map(probe_header, [c.audio for c in cands]), total=len(cands),
                                  desc=f"stage 1: LibriTTS {part} headers", unit="file"))
        recs, sups, more = build_manifests(cands, infos, min_duration, max_duration, language="English")
        sups = SupervisionSet.from_segments(fastcopy(s, gender=genders.get(s.speaker)) for s in sups)
        rejects += part_rejects + more
        logging.info("LibriTTS %s: %d utterances kept", part, len(sups))
        result[part] = {"recordings": recs, "supervisions": sups}
    output_dir.mkdir(parents=True, exist_ok=True)
    write_rejects(output_dir / "rejects.tsv", rejects)
    total = sum(len(m["supervisions"]) for m in result.values())
    print(format_counts(total, rejects), flush=True)
    if total == 0:
        raise ValueError(f"no usable utterance in {corpus_dir} parts {parts}: see {output_dir / 'rejects.tsv'}")
    for part, m in result.items():
        atomic_save_manifest(m["recordings"], output_dir / f"{prefix}_recordings_{part}.jsonl.gz")
        atomic_save_manifest(m["supervisions"], output_dir / f"{prefix}_supervisions_{part}.jsonl.gz")
    return result
