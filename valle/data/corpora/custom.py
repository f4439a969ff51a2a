"""``prepare_custom``: lhotse manifests for a user's own recordings, with every file accounted for.

The result is one part, ``all``: ``<prefix>_recordings_all.jsonl.gz`` and
``<prefix>_supervisions_all.jsonl.gz`` (one recording and one supervision per utterance, ids
equal), plus ``rejects.tsv`` naming each file that was left out and why. Recordings point at
the untouched source files at their own rate and channel count; stage 3 downmixes and
resamples. With ``trim_silence`` the supervision covers only the detected speech span.
"""
from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from valle.data.corpora.audio_check import AudioInfo, AudioProblem, check_audio, too_long_detail
from valle.data.corpora.layouts import LAYOUTS, SCANNERS, Candidate, detect_layout, outputs_inside
from valle.data.corpora.rejects import Reject, format_counts, write_rejects
from valle.utils.atomic import atomic_save_manifest
from valle.utils.process import clean_up_at_worker_exit
from valle.utils.progress import progress

PART = "all"
# Transcript characters per second of audio beyond which text and audio cannot belong together
# (fast read speech is ~15-20 characters/s).
MAX_CHARS_PER_SECOND = 60.0


def _probe(job: Tuple[str, bool, float]) -> Union[AudioInfo, Tuple[str, str]]:
    path, trim, max_duration = job
    try:
        return check_audio(Path(path), trim_silence=trim, max_duration=max_duration)
    except AudioProblem as e:
        return e.reason, e.detail


def probe_all(paths: List[Path], trim_silence: bool, num_jobs: int,
              max_duration: float = float("inf")) -> List[Union[AudioInfo, Tuple[str, str]]]:
    """Decode every file (in ``num_jobs`` processes); one AudioInfo or (reason, detail) each.
    A progress bar on a terminal's stderr (valle.utils.progress)."""
    jobs = [(str(p), trim_silence, max_duration) for p in paths]
    bar = dict(total=len(jobs), desc="stage 1: probing audio", unit="file")
    if num_jobs <= 1 or len(jobs) < 8:
        return [_probe(j) for j in progress(jobs, **bar)]
    with ProcessPoolExecutor(num_jobs, initializer=clean_up_at_worker_exit) as ex:
        return list(progress(ex.map(_probe, jobs, chunksize=max(1, len(jobs) // (4 * num_jobs))), **bar))


def trim_silence_used(info: AudioInfo) -> bool:
    return info.speech_start > 0 or info.speech_end < info.duration


def build_manifests(
    cands: List[Candidate],
    infos: List[Union[AudioInfo, Tuple[str, str]]],
    min_duration: float,
    max_duration: float,
    language: Optional[str] = None,
):
    """Turn checked candidates into (RecordingSet, SupervisionSet, rejects)."""
    from lhotse import AudioSource, Recording, RecordingSet, SupervisionSegment, SupervisionSet

    recordings, supervisions, rejects = [], [], []
    seen: Dict[str, Path] = {}
    for cand, info in zip(cands, infos):
        path = str(cand.audio)
        if isinstance(info, tuple):
            rejects.append(Reject(path, info[0], info[1]))
            continue
        if not cand.text:
            rejects.append(Reject(path, "empty_transcript", f"{cand.transcript} has no text"))
            continue
        span = info.speech_end - info.speech_start
        if span < min_duration:
            rejects.append(Reject(path, "too_short", f"{span:.3f} s < --filter-min-duration {min_duration} s"))
            continue
        if span > max_duration:
            rejects.append(Reject(path, "too_long", too_long_detail(span, max_duration)))
            continue
        if len(cand.text) > MAX_CHARS_PER_SECOND * max(span, 0.1):
            rejects.append(Reject(path, "text_audio_mismatch",
                                  f"{len(cand.text)} transcript characters for {span:.2f} s of audio "
                                  f"({len(cand.text) / max(span, 0.1):.0f}/s; speech is rarely above 25/s): "
                                  f"check {cand.transcript}"))
            continue
        if cand.utt_id in seen:
            rejects.append(Reject(path, "duplicate_id", f"utterance id {cand.utt_id} is already used by {seen[cand.utt_id]}"))
            continue
        seen[cand.utt_id] = cand.audio
        channels = list(range(info.num_channels))
        recordings.append(
            Recording(
                id=cand.utt_id,
                sources=[AudioSource(type="file", channels=channels, source=str(cand.audio.resolve()))],
                sampling_rate=info.sampling_rate,
                num_samples=info.num_samples,
                duration=info.duration,
            )
        )
        supervisions.append(
            SupervisionSegment(
                id=cand.utt_id,
                recording_id=cand.utt_id,
                start=info.speech_start,
                duration=span if trim_silence_used(info) else info.duration,
                channel=0 if info.num_channels == 1 else channels,
                text=cand.text,
                speaker=cand.speaker,
                language=language,
                custom=dict(cand.custom),
            )
        )
    return RecordingSet.from_recordings(recordings), SupervisionSet.from_segments(supervisions), rejects


def prepare_custom(
    corpus_dir,
    output_dir,
    layout: str = "auto",
    speaker: Optional[str] = None,
    trim_silence: bool = False,
    min_duration: float = 0.5,
    max_duration: float = 20.0,
    num_jobs: int = 1,
    prefix: str = "custom",
    language: Optional[str] = None,
    long_options=None,
    loudness: Optional[float] = None,
    segments_tsv=None,
) -> Dict[str, Dict]:
    """Prepare manifests for a custom corpus; returns ``{"all": {"recordings", "supervisions", "rejects"}}``.

    ``long_options`` (valle.data.long.process.Options), ``loudness`` (LUFS) and ``segments_tsv`` (a
    corrected long_segments.tsv) apply to the ``long`` layout only. Raises ValueError when the
    folder or layout is wrong or when no usable utterance remains.
    """
    corpus_dir = Path(corpus_dir)
    output_dir = Path(output_dir)
    if not corpus_dir.is_dir():
        raise ValueError(f"--corpus-dir {corpus_dir} is not a directory: point it at your recordings")
    exclude = outputs_inside(corpus_dir, output_dir)  # a data dir inside the corpus is not input
    if layout == "auto":
        layout = detect_layout(corpus_dir, exclude, max_duration)
        logging.info("detected layout %s in %s", layout, corpus_dir)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown --layout {layout!r}: use auto or one of {', '.join(LAYOUTS)}")
    output_dir.mkdir(parents=True, exist_ok=True)
    if layout == "long":
        from valle.data.long.prepare import prepare_long
        from valle.data.long.process import Options

        recordings, supervisions, rejects = prepare_long(
            corpus_dir, output_dir, speaker, exclude, long_options or Options(), num_jobs=num_jobs, language=language,
            loudness=loudness, segments_tsv=segments_tsv)
    else:
        for stale in ("long_summary.json", "long_segments.tsv"):  # from an earlier long-layout run
            (output_dir / stale).unlink(missing_ok=True)
        cands, rejects = SCANNERS[layout](corpus_dir, speaker, exclude)
        logging.info("probing %d audio files with %d job(s)", len(cands), num_jobs)
        infos = probe_all([c.audio for c in cands], trim_silence, num_jobs, max_duration)
        recordings, supervisions, rejects2 = build_manifests(cands, infos, min_duration, max_duration, language)
        rejects += rejects2
    write_rejects(output_dir / "rejects.tsv", rejects)
    print(format_counts(len(supervisions), rejects), flush=True)
    if len(supervisions) == 0:
        raise ValueError(
            f"no usable utterance in {corpus_dir} (layout {layout}): see {output_dir / 'rejects.tsv'} for why each file was rejected"
        )
    atomic_save_manifest(recordings, output_dir / f"{prefix}_recordings_{PART}.jsonl.gz")
    atomic_save_manifest(supervisions, output_dir / f"{prefix}_supervisions_{PART}.jsonl.gz")
    return {PART: {"recordings": recordings, "supervisions": supervisions, "rejects": rejects}}
