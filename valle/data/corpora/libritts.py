"""LibriTTS through lhotse's own recipe: download (stage 0) and manifests (stage 1).

lhotse's ``prepare_libritts`` reads each part's ``*.trans.tsv``/``*.book.tsv`` and every wav;
we call it without an output directory and write its manifests ourselves, atomically, after
adding what it does silently: wav files without a transcript line, and utterances outside the
duration limits, go to rejects.tsv instead of vanishing. lhotse's recipe stops at the first wav
it cannot open; then we find every such file, list it as a reject, and run the recipe again on a
mirror of the part (symbolic links) without them.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from valle.data.corpora.layouts import list_audio_files
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
# Files lhotse's recipe excludes on purpose (its exclude pattern), reported with the right reason.
KNOWN_CORRUPT = ("1092_134562_000013_000004.wav",)
MIRROR_PREFIX = ".libritts-mirror-"  # temporary part mirrors in the manifests folder (see lhotse_part_manifests)


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


def _lhotse_skips(wav: Path) -> bool:
    """Files lhotse's recipe leaves out on purpose (its exclude pattern)."""
    return wav.name.startswith("._") or wav.name in KNOWN_CORRUPT


def _part_wavs(part_dir: Path) -> List[Path]:
    """The wavs of a part that lhotse's recipe reads (it globs ``*.wav``)."""
    return [w for w in list_audio_files(part_dir) if w.suffix == ".wav" and not _lhotse_skips(w)]


def _open_problem(wav: Path) -> Optional[str]:
    """Why lhotse cannot open ``wav`` (None if it can): libsndfile's reason, else lhotse's last line."""
    import soundfile as sf
    from lhotse import Recording

    try:
        Recording.from_file(wav)
        return None
    except Exception as e:  # lhotse raises several kinds for a damaged file
        lhotse_reason = (str(e).strip().splitlines() or [type(e).__name__])[-1]
    try:
        sf.info(str(wav))
    except Exception as e:
        return f"cannot open it: {e}"
    return f"lhotse cannot open it: {lhotse_reason}"


def unreadable_wavs(part_dir: Path, num_jobs: int = 1) -> List[Reject]:
    """Every wav of a part that lhotse cannot open (what makes its recipe raise)."""
    from concurrent.futures import ThreadPoolExecutor

    wavs = _part_wavs(part_dir)
    with ThreadPoolExecutor(max(1, num_jobs)) as pool:
        problems = list(pool.map(_open_problem, wavs))
    return [Reject(str(w), "unreadable_audio", p) for w, p in zip(wavs, problems) if p]


def _truncation(wav: Path) -> Optional[str]:
    """Why a wav whose data chunk is shorter than its header says is corrupt (header read only):
    lhotse would read it as a shorter utterance than its transcript. None for a whole file."""
    from valle.data.corpora.audio_check import wav_truncation

    try:
        return wav_truncation(wav)
    except OSError as e:  # lhotse opened it a moment ago; report rather than crash
        return f"cannot read the file: {e}"


def _mirror_part(corpus_dir: Path, part: str, mirror: Path, leave_out: set) -> None:
    """``mirror/<part>`` with the part's folders and an absolute symbolic link for every file not in
    ``leave_out`` (a relative target would resolve from the link's folder, not the corpus)."""
    if (corpus_dir / "SPEAKERS.txt").is_file():
        os.symlink(os.path.abspath(corpus_dir / "SPEAKERS.txt"), mirror / "SPEAKERS.txt")
    for root, _dirs, files in os.walk(corpus_dir / part):
        target = mirror / Path(root).relative_to(corpus_dir)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            if str(Path(root) / name) not in leave_out:
                os.symlink(os.path.abspath(Path(root) / name), target / name)


def lhotse_part_manifests(corpus_dir: Path, part: str, num_jobs: int, work_dir: Path) -> Tuple[Dict, List[Reject]]:
    """lhotse's recipe for one part, and the wavs set aside because lhotse could not open them."""
    from lhotse import RecordingSet
    from lhotse.audio.utils import AudioLoadingError
    from lhotse.recipes.libritts import prepare_libritts
    from lhotse.utils import fastcopy

    try:
        return prepare_libritts(corpus_dir, dataset_parts=[part], output_dir=None, num_jobs=num_jobs)[part], []
    except AudioLoadingError as error:
        unreadable = unreadable_wavs(corpus_dir / part, num_jobs)
        if not unreadable:
            raise
        logging.warning("LibriTTS %s: lhotse's recipe stopped at a wav it cannot open; %d such file(s) set "
                        "aside and listed in rejects.tsv (%s)", part, len(unreadable),
                        (str(error).strip().splitlines() or [""])[0])
    work_dir.mkdir(parents=True, exist_ok=True)
    mirror = Path(tempfile.mkdtemp(prefix=MIRROR_PREFIX, dir=work_dir))
    try:
        _mirror_part(corpus_dir, part, mirror, {r.path for r in unreadable})
        m = prepare_libritts(mirror, dataset_parts=[part], output_dir=None, num_jobs=num_jobs)[part]
    except Exception as e:
        raise ValueError(f"LibriTTS {part}: lhotse's recipe failed on {corpus_dir / part} after setting aside "
                           f"{len(unreadable)} unreadable wav(s) (paths below are links to files there): {e}") from e
    finally:
        shutil.rmtree(mirror, ignore_errors=True)
    recordings = [  # point the sources back at the corpus, not at the mirror's links
        fastcopy(rec, sources=[fastcopy(s, source=str(corpus_dir / Path(s.source).relative_to(mirror)))
                               for s in rec.sources])
        for rec in m["recordings"]
    ]
    return {"recordings": RecordingSet.from_recordings(recordings), "supervisions": m["supervisions"]}, unreadable


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
    for part in parts:
        m, unreadable = lhotse_part_manifests(corpus_dir, part, num_jobs, output_dir)
        rejects.extend(unreadable)
        set_aside = {r.path for r in unreadable}
        recs, sups = m["recordings"], m["supervisions"]
        sup_ids = {s.recording_id for s in sups}
        for wav in list_audio_files(corpus_dir / part):
            if wav.stem in sup_ids or str(wav) in set_aside:
                continue
            if wav.name.startswith("._"):  # lhotse's exclude pattern (_lhotse_skips)
                rejects.append(Reject(str(wav), "unreadable_audio", "macOS resource-fork file, not audio"))
            elif wav.name in KNOWN_CORRUPT:
                rejects.append(Reject(str(wav), "corrupt_audio", "known corrupt LibriTTS file, skipped by lhotse's recipe"))
            else:
                rejects.append(Reject(str(wav), "missing_transcript", "no line in the chapter's .trans.tsv"))
        keep = []
        for s in sups:
            path = recs[s.recording_id].sources[0].source
            truncated = _truncation(Path(path))
            if truncated:
                rejects.append(Reject(path, "corrupt_audio", truncated))
            elif s.duration <= 0:
                rejects.append(Reject(path, "zero_duration", "the file holds no samples"))
            elif s.duration < min_duration:
                rejects.append(Reject(path, "too_short", f"{s.duration:.3f} s < --min-duration {min_duration} s"))
            elif s.duration > max_duration:
                rejects.append(Reject(path, "too_long", f"{s.duration:.3f} s > --max-duration {max_duration} s; "
                                      f"raise it with --max-duration {int(s.duration) + 1}"))
            elif not s.text or not s.text.strip():
                rejects.append(Reject(path, "empty_transcript", "empty normalized text in .trans.tsv"))
            else:
                keep.append(s)
        kept_ids = {s.recording_id for s in keep}
        recs = recs.filter(lambda r: r.id in kept_ids)
        sups = sups.filter(lambda s: s.recording_id in kept_ids).to_eager()
        recs = recs.to_eager()
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
