"""One long recording -> segments with text and confidence (or a reject reason each).

1. VAD over the streamed audio (cached per source file and segment limits: a rerun with the
   same source skips it), segmentation at pauses (valle.data.long.segment).
2. Text per segment:
   - a transcript: the segments are aligned in order, each to the start of the words not yet
     used (valle.data.long.align); after a rejected segment the next one may skip the words
     the rejected one probably held;
   - no transcript: pocketsphinx transcribes each segment, and the confidence is that of
     aligning its own hypothesis (same measure as with a transcript);
   - a corrected segments TSV (``--segments-tsv``): a row whose text differs from what the
     previous run produced replaces it and only that segment is aligned again.
   Each decoded (segment, text) confidence is cached, so a rerun redoes only what changed.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from valle.data.long.scan import LongSource
from valle.data.long.segment import Span, segment_speech, sound_without_speech
from valle.utils.atomic import atomic_write_text

WORDS_PER_SECOND = 4.0  # generous speaking rate: how far ahead in the text a segment may reach
MAX_SKIP = 200  # words a segment may skip after rejected ones (beyond that the text has lost the audio)
CACHE_VERSION = 1


@dataclass
class Options:
    segment_min: float = 2.0
    segment_max: float = 15.0
    min_confidence: float = 0.6


@dataclass
class Segment:
    id: str
    rec_id: str
    start: float
    end: float
    text: str
    confidence: float
    origin: str  # aligned | asr | corrected
    reason: str = ""  # "" = kept, else a rejects.tsv reason
    detail: str = ""

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class SourceResult:
    rec_id: str
    sampling_rate: int
    num_channels: int
    num_samples: int
    segments: List[Segment] = field(default_factory=list)
    not_speech: List[Tuple[float, float]] = field(default_factory=list)
    left_over: str = ""  # transcript words no segment took
    decoded: int = 0  # segments aligned or transcribed in this run (the rest came from the cache)
    vad_seconds: float = 0.0  # CPU time of this run's VAD (0 when the spans came from the cache)
    text_seconds: float = 0.0  # CPU time of this run's alignment/transcription


_MODELS: Dict[str, object] = {}


def _vad():
    if "vad" not in _MODELS:
        from valle.data.long.vad import SileroVAD

        _MODELS["vad"] = SileroVAD()
    return _MODELS["vad"]


def _aligner():
    if "aligner" not in _MODELS:
        from valle.data.long.align import Aligner

        _MODELS["aligner"] = Aligner()
    return _MODELS["aligner"]


def read_16k(path: Path, start: float, end: float, sr: int) -> np.ndarray:
    """Mono 16 kHz float32 of [start, end) seconds of ``path`` (only that part is read)."""
    import soundfile as sf
    import soxr

    a, b = int(round(start * sr)), int(round(end * sr))
    data, _ = sf.read(str(path), start=a, stop=b, dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    return soxr.resample(mono, sr, 16000).astype(np.float32) if sr != 16000 else mono.astype(np.float32)


def _source_key(src: LongSource, opts: Options) -> str:
    st = src.audio.stat()
    return f"{src.audio.resolve()}|{st.st_size}|{st.st_mtime_ns}|{opts.segment_min}|{opts.segment_max}|v{CACHE_VERSION}"


def _text_key(start: float, end: float, text: str) -> str:
    return hashlib.sha1(f"{start:.3f}|{end:.3f}|{text}".encode()).hexdigest()[:16]


class Cache:
    """``<output_dir>/long_cache/<rec_id>.json``: the spans and every confidence computed so far."""

    def __init__(self, path: Path, key: str):
        self.path, self.key = path, key
        data = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                data = {}
        if data.get("key") != key:
            data = {"key": key}
        self.data = data
        self.data.setdefault("scores", {})

    def get(self, name):
        return self.data.get(name)

    def put(self, name, value):
        self.data[name] = value

    def save(self):
        atomic_write_text(self.path, json.dumps(self.data, sort_keys=True) + "\n")


def _spans(src: LongSource, cache: Cache, meta: Dict, opts: Options) -> Tuple[List[Span], List[Span]]:
    if cache.get("spans") is not None:
        meta.update(cache.get("meta"))
        return [Span(*s) for s in cache.get("spans")], [Span(*s) for s in cache.get("not_speech")]
    from valle.data.long.vad import RATE, stream_16k

    probs, levels, n16 = _vad().probabilities(stream_16k(src.audio, meta))
    duration = meta["num_samples"] / meta["sampling_rate"] if meta["sampling_rate"] else n16 / RATE
    spans = segment_speech(probs, duration, opts.segment_min, opts.segment_max)
    others = sound_without_speech(probs, levels, spans)
    cache.put("meta", dict(meta))
    cache.put("spans", [[s.start, s.end] for s in spans])
    cache.put("not_speech", [[s.start, s.end] for s in others])
    return spans, others


def _scored(cache: Cache, audio_fn, span: Span, text: str, stats: Dict) -> Tuple[float, int]:
    """Confidence of ``text`` on ``span`` (tokens heard), from the cache or aligned now."""
    key = _text_key(span.start, span.end, text)
    hit = cache.data["scores"].get(key)
    if hit is not None:
        return hit[0], hit[1]
    tokens = text.split()
    al = _aligner().align(audio_fn(span), tokens)
    conf = al.confidence if al.consumed >= len(tokens) else min(al.confidence, al.consumed / max(1, len(tokens)))
    stats["decoded"] += 1
    cache.data["scores"][key] = [conf, al.consumed]
    return conf, al.consumed


def _align_transcript(src: LongSource, spans: List[Span], audio_fn, opts: Options, cache: Cache,
                      stats: Dict) -> Tuple[List[Tuple[str, float, str]], str]:
    """(text, confidence, origin) per span from the whole transcript, and the words left over."""
    tokens = src.text.split()
    key = hashlib.sha1((src.text + f"|{opts.min_confidence}").encode()).hexdigest()[:16]
    hit = cache.get("alignment")
    if hit is not None and hit.get("text") == key:
        return [tuple(x) for x in hit["result"]], hit["left_over"]
    out: List[List] = []
    ptr, skip, rejected = 0, 0, []
    for span in spans:
        est = int(span.duration * WORDS_PER_SECOND) + 8
        window = tokens[ptr:ptr + skip + est]
        al = _aligner().align(audio_fn(span), window, skip=skip)
        stats["decoded"] += 1
        out.append([" ".join(window[al.skipped:al.skipped + al.consumed]), al.confidence, "aligned"])
        if al.consumed and al.confidence >= opts.min_confidence:
            _share(window[:al.skipped], [out[i] for i in rejected], [spans[i].duration for i in rejected])
            ptr += al.skipped + al.consumed
            skip, rejected = 0, []
        else:  # the next segment may start up to about this segment's words later in the text
            rejected.append(len(out) - 1)
            skip = min(MAX_SKIP, skip + int(span.duration * WORDS_PER_SECOND * 0.75) + 3)
    if rejected:  # rejected segments at the end hold what is left
        _share(tokens[ptr:], [out[i] for i in rejected], [spans[i].duration for i in rejected])
        ptr = len(tokens)
    left_over = " ".join(tokens[ptr:])
    cache.put("alignment", {"text": key, "result": out, "left_over": left_over})
    return [tuple(x) for x in out], left_over


def _share(tokens: List[str], rows: List[List], durations: List[float]) -> None:
    """Give the words skipped over to the rejected segments before, in proportion to their durations
    (their best guess, shown in rejects.tsv and long_segments.tsv for the user to correct)."""
    if not rows:
        return
    total, done = sum(durations) or 1.0, 0
    for k, (row, d) in enumerate(zip(rows, durations)):
        n = len(tokens) - done if k == len(rows) - 1 else int(round(len(tokens) * d / total))
        row[0] = " ".join(tokens[done:done + n])
        done += n


def process_source(src: LongSource, opts: Options, cache_dir: Path,
                   corrections: Optional[Dict[Tuple[float, float], str]] = None) -> SourceResult:
    corrections = corrections or {}
    cache = Cache(Path(cache_dir) / f"{src.rec_id}.json", _source_key(src, opts))
    meta: Dict = {}
    t0 = time.process_time()
    spans, others = _spans(src, cache, meta, opts)
    t1 = time.process_time()
    sr = meta["sampling_rate"]
    stats = {"decoded": 0}

    last: Dict = {}  # the last span read: transcribing, then scoring, then a correction read one span in turn

    def audio_fn(span: Span) -> np.ndarray:
        key = (span.start, span.end)
        if last.get("key") != key:
            last["key"], last["audio"] = key, read_16k(src.audio, span.start, span.end, sr)
        return last["audio"]

    left_over = ""
    if src.text is not None:
        texts, left_over = _align_transcript(src, spans, audio_fn, opts, cache, stats)
    else:
        asr = cache.data.setdefault("asr", {})
        texts = []
        for span in spans:
            k = f"{span.start:.3f}-{span.end:.3f}"
            if k not in asr:
                asr[k] = _aligner().transcribe(audio_fn(span))
                stats["decoded"] += 1
            conf, _ = _scored(cache, audio_fn, span, asr[k], {"decoded": 0}) if asr[k] else (0.0, 0)
            texts.append((asr[k], conf, "asr"))
    result = SourceResult(src.rec_id, sr, meta["num_channels"], meta["num_samples"],
                          not_speech=[(s.start, s.end) for s in others], left_over=left_over)
    for i, (span, (text, conf, origin)) in enumerate(zip(spans, texts)):
        fixed = corrections.get((round(span.start, 3), round(span.end, 3)))
        if fixed is not None and " ".join(fixed.split()) != text:
            text = " ".join(fixed.split())
            conf = _scored(cache, audio_fn, span, text, stats)[0] if text else 0.0
            origin = "corrected"
        seg = Segment(f"{src.rec_id}_{i:04d}", src.rec_id, span.start, span.end, text, round(conf, 4), origin)
        judge(seg, opts)
        result.segments.append(seg)
    result.decoded = stats["decoded"]
    result.vad_seconds, result.text_seconds = round(t1 - t0, 3), round(time.process_time() - t1, 3)
    cache.save()
    return result


def judge(seg: Segment, opts: Options) -> None:
    """Set ``seg.reason``/``detail`` when the segment cannot be trained on."""
    what = "alignment" if seg.origin != "asr" else "ASR"
    if seg.duration < opts.segment_min:
        seg.reason, seg.detail = "too_short", (f"{seg.duration:.2f} s segment < --segment-min {opts.segment_min} s "
                                               f"(speech with long pauses on both sides)")
    elif not seg.text:
        seg.reason, seg.detail = "no_words", (f"no transcript word was heard in it ({what}); speech the "
                                              "transcript lacks, or a sound the detector took for speech")
    elif seg.confidence < opts.min_confidence:
        seg.reason, seg.detail = "low_confidence", (f"{what} confidence {seg.confidence:.2f} < --min-confidence "
                                                    f"{opts.min_confidence}; best guess: {seg.text}")

