"""Stage 1 for the ``long`` layout: segments of long recordings as ordinary lhotse manifests.

Writes, beside the usual ``<prefix>_{recordings,supervisions}_all.jsonl.gz`` and ``rejects.tsv``:
- ``long_segments.tsv``: every segment (kept or not) with its source span, confidence, status and
  text; correct the text column and pass the file back with ``--segments-tsv`` to redo only those;
- ``long_summary.json``: hours in, hours kept, segment durations and confidences (the stage-4
  report draws them);
- ``long_cache/``: VAD spans and confidences per source, so reruns redo only what changed.
Without ``--loudness`` the recordings are the untouched long sources and each supervision is a
span of one; with ``--loudness LUFS`` each kept segment is written, loudness-normalised, to
``long_segments/<id>.wav`` and becomes a recording of its own.
"""
from __future__ import annotations

import csv
import json
import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from valle.data.corpora.rejects import Reject
from valle.data.long.process import Options, SourceResult, process_source
from valle.data.long.report import SUMMARY_JSON
from valle.data.long.scan import LongSource, scan_long
from valle.utils.atomic import atomic_path, atomic_write_text
from valle.utils.process import clean_up_at_worker_exit
from valle.utils.progress import progress

SEGMENTS_TSV = "long_segments.tsv"
TSV_HEADER = ("id", "source", "start", "end", "confidence", "status", "text")


def read_corrections(path: Path) -> Dict[str, Dict[Tuple[float, float], str]]:
    """``source path -> {(start, end): text}`` from a (corrected) segments TSV."""
    out: Dict[str, Dict[Tuple[float, float], str]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or tuple(header[:len(TSV_HEADER)]) != TSV_HEADER:
            raise ValueError(f"--segments-tsv {path}: the first line must be the header "
                             f"{' '.join(TSV_HEADER)} (edit a {SEGMENTS_TSV} written by stage 1)")
        for n, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) < len(TSV_HEADER):
                raise ValueError(f"--segments-tsv {path}:{n} has {len(row)} TAB-separated fields, expected "
                                 f"{len(TSV_HEADER)}; keep the TABs when editing the text column")
            try:
                span = (round(float(row[2]), 3), round(float(row[3]), 3))
            except ValueError:
                raise ValueError(f"--segments-tsv {path}:{n}: start/end are not numbers") from None
            out.setdefault(str(Path(row[1]).resolve()), {})[span] = row[6]
    return out


def _job(args):
    src, opts, cache_dir, corrections = args
    return process_source(src, opts, cache_dir, corrections)


def _write_loud(src: LongSource, seg, target_lufs: float, out_dir: Path) -> Tuple[Path, int, int, int]:
    """Write ``seg`` of ``src`` normalised to ``target_lufs``; returns (path, rate, channels, samples)."""
    import numpy as np
    import pyloudnorm
    import soundfile as sf

    info = sf.info(str(src.audio))
    sr = info.samplerate
    data, _ = sf.read(str(src.audio), start=int(round(seg.start * sr)), stop=int(round(seg.end * sr)),
                      dtype="float32", always_2d=True)
    meter = pyloudnorm.Meter(sr, block_size=min(0.4, data.shape[0] / sr))
    level = meter.integrated_loudness(data)
    if np.isfinite(level):
        data = data * np.float32(10.0 ** ((target_lufs - level) / 20.0))
        peak = float(np.abs(data).max())
        if peak > 0.999:  # never clip: lower the whole segment instead
            data = data * np.float32(0.999 / peak)
    path = out_dir / f"{seg.id}.wav"
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, sr, format="WAV", subtype="PCM_16")
    return path, sr, data.shape[1], data.shape[0]


def _manifests(sources: Dict[str, LongSource], results: List[SourceResult], out: Path,
               loudness: Optional[float], language: Optional[str]):
    from lhotse import AudioSource, Recording, RecordingSet, SupervisionSegment, SupervisionSet

    recordings, supervisions = [], []
    loud_dir = out / "long_segments"
    for r in results:
        src = sources[r.rec_id]
        kept = [s for s in r.segments if not s.reason]
        if not kept:
            continue
        channels = list(range(r.num_channels))
        if loudness is None:
            recordings.append(Recording(id=r.rec_id, sources=[AudioSource(type="file", channels=channels,
                                                                          source=str(src.audio.resolve()))],
                                        sampling_rate=r.sampling_rate, num_samples=r.num_samples,
                                        duration=r.num_samples / r.sampling_rate))
        for s in kept:
            rec_id, start, duration, chans = r.rec_id, s.start, round(s.end - s.start, 6), channels
            if loudness is not None:
                path, sr, nch, n = _write_loud(src, s, loudness, loud_dir)
                chans = list(range(nch))
                recordings.append(Recording(id=s.id, sources=[AudioSource(type="file", channels=chans,
                                                                          source=str(path.resolve()))],
                                            sampling_rate=sr, num_samples=n, duration=n / sr))
                rec_id, start, duration = s.id, 0.0, n / sr
            supervisions.append(SupervisionSegment(
                id=s.id, recording_id=rec_id, start=start, duration=duration,
                channel=0 if len(chans) == 1 else chans, text=s.text, speaker=src.speaker, language=language,
                custom={"orig_text": s.text, "confidence": s.confidence, "origin": s.origin,
                        "source": str(src.audio), "source_start": s.start}))
    return RecordingSet.from_recordings(recordings), SupervisionSet.from_segments(supervisions)


def _rejects_and_tsv(sources: Dict[str, LongSource], results: List[SourceResult]) -> Tuple[List[Reject], List[str]]:
    rejects, rows = [], ["\t".join(TSV_HEADER)]
    for r in results:
        src = str(sources[r.rec_id].audio)
        for s in r.segments:
            if s.reason:
                rejects.append(Reject(f"{src}@{s.start:.2f}-{s.end:.2f}", s.reason, s.detail))
            rows.append("\t".join((s.id, src, f"{s.start:.3f}", f"{s.end:.3f}", f"{s.confidence:.4f}",
                                   s.reason or "kept", " ".join(s.text.split()))))
        for a, b in r.not_speech:
            rejects.append(Reject(f"{src}@{a:.2f}-{b:.2f}", "not_speech",
                                  f"{b - a:.1f} s of sound (noise, music) in which the detector found no speech"))
        if not r.segments and not r.not_speech:
            rejects.append(Reject(src, "no_words", "the voice-activity detector found no speech in the recording"))
        if r.left_over:
            n = len(r.left_over.split())
            rejects.append(Reject(src, "transcript_left_over",
                                  f"{n} transcript word(s) no segment was aligned to: {r.left_over[:300]}"))
    return rejects, rows


def summarize(results: List[SourceResult]) -> Dict:
    segs = [s for r in results for s in r.segments]
    return {
        "hours_in": round(sum(r.num_samples / r.sampling_rate for r in results) / 3600, 6),
        "hours_kept": round(sum(s.duration for s in segs if not s.reason) / 3600, 6),
        "recordings": len(results),
        "segments": len(segs),
        "kept": sum(not s.reason for s in segs),
        "durations": [round(s.duration, 3) for s in segs if not s.reason],
        "confidences": [s.confidence for s in segs],
        "confidence_kind": sorted({s.origin for s in segs}),
    }


def prepare_long(corpus_dir: Path, output_dir: Path, speaker: Optional[str], exclude, opts: Options,
                 num_jobs: int = 1, language: Optional[str] = None,
                 loudness: Optional[float] = None, segments_tsv: Optional[Path] = None):
    """Everything stage 1 writes for the long layout; returns (recordings, supervisions, rejects)."""
    sources_list, rejects = scan_long(Path(corpus_dir), speaker, exclude)
    sources = {s.rec_id: s for s in sources_list}
    corrections = read_corrections(Path(segments_tsv)) if segments_tsv else {}
    cache_dir = Path(output_dir) / "long_cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(s, opts, cache_dir, corrections.get(str(s.audio.resolve()), {})) for s in sources_list]
    logging.info("long layout: %d recording(s), %d job(s)", len(jobs), num_jobs)
    bar = dict(total=len(jobs), desc="stage 1: long recordings", unit="rec")
    if num_jobs <= 1 or len(jobs) < 2:
        done = [_safe(j) for j in progress(jobs, **bar)]
    else:
        with ProcessPoolExecutor(num_jobs, initializer=clean_up_at_worker_exit) as ex:
            done = list(progress(ex.map(_safe, jobs), **bar))
    rejects += [r for r in done if isinstance(r, Reject)]
    results: List[SourceResult] = [r for r in done if not isinstance(r, Reject)]
    more, rows = _rejects_and_tsv(sources, results)
    rejects += more
    recordings, supervisions = _manifests(sources, results, Path(output_dir), loudness, language)
    atomic_write_text(Path(output_dir) / SEGMENTS_TSV, "\n".join(rows) + "\n")
    summary = summarize(results)
    summary["decoded"] = sum(r.decoded for r in results)
    summary["cpu_seconds"] = {"vad": round(sum(r.vad_seconds for r in results), 3),
                              "align_or_transcribe": round(sum(r.text_seconds for r in results), 3)}
    summary["loudness"] = loudness
    summary["min_confidence"] = opts.min_confidence
    atomic_write_text(Path(output_dir) / SUMMARY_JSON, json.dumps(summary, indent=1) + "\n")
    print(f"long layout: {summary['hours_in'] * 60:.1f} min in, {summary['hours_kept'] * 60:.1f} min kept in "
          f"{summary['kept']} of {summary['segments']} segments; aligned or transcribed {summary['decoded']} "
          f"segment(s) this run (the rest from {cache_dir})", flush=True)
    n_asr = sum(s.origin == "asr" and not s.reason for r in results for s in r.segments)
    if n_asr:
        print(f"WARNING: {n_asr} kept segment(s) have text from pocketsphinx (offline English ASR, often wrong: "
              f"~25% WER on clean read speech, its confidence does not catch misrecognised words); correct the "
              f"text column of a copy of {Path(output_dir) / SEGMENTS_TSV} and rerun with --segments-tsv", flush=True)
    return recordings, supervisions, rejects


def _safe(job) -> Union[SourceResult, Reject]:
    """Process one source; an unreadable one becomes an unreadable_audio reject."""
    try:
        return _job(job)
    except Exception as e:  # libsndfile and onnxruntime raise their own types
        msg = str(e).strip() or type(e).__name__
        return Reject(str(job[0].audio), "unreadable_audio", f"cannot decode audio ({msg})")
