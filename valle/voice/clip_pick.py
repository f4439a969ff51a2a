"""Pick a speaker's prompt clip: from a prepared corpus's cuts, or from one (long) recording.

Corpus: every utterance of the speaker that lasts ``min_seconds``..``max_seconds`` once its leading
and trailing silence is trimmed is a candidate (whole utterances only: their transcript and stage-2
tokens describe exactly their audio); up to ``max_candidates`` of them, spread over the list, are
scored (``ClipScorer``: DNSMOS, similarity to the speaker's other utterances) and the best is kept.
Recording: the candidates are windows of consecutive speech stretches between pauses
(``silence.speech_regions``), so a clip never starts or ends inside a word.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from valle.voice.clip_scores import ClipScorer, mean_embedding
from valle.voice.silence import speech_regions, trim_bounds
from valle.voice.voice_file import VoiceError

log = logging.getLogger(__name__)


@dataclass
class Clip:
    audio: np.ndarray  # float32 mono
    sample_rate: int
    speaker: str
    text: str = ""
    language: str = "en-us"
    tokens: Optional[List[str]] = None
    token_langs: Optional[List[str]] = None
    source: Dict[str, object] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def spread(items: Sequence, n: int) -> list:
    """At most ``n`` items spread evenly over ``items`` (all of them when there are few)."""
    if len(items) <= n:
        return list(items)
    return [items[int(i * len(items) / n)] for i in range(n)]


def speaker_of(cut) -> str:
    return str(cut.supervisions[0].speaker or "speaker") if cut.supervisions else "speaker"


def usable_cuts(cut_files: Sequence) -> Dict[str, list]:
    """The cuts with a transcript, stage-2 tokens and audio, by speaker (in file order)."""
    from pathlib import Path

    from lhotse import load_manifest

    by_speaker: Dict[str, list] = {}
    for path in cut_files:
        if not Path(path).is_file():
            continue
        for cut in load_manifest(path):
            sup = cut.supervisions[0] if cut.supervisions else None
            if sup is None or not (sup.text or "").strip() or not cut.has_recording:
                continue
            if not (sup.custom or {}).get("text_tokens"):
                continue
            by_speaker.setdefault(speaker_of(cut), []).append(cut)
    return by_speaker


def _trimmed(cut) -> Tuple[np.ndarray, int, int, int]:
    wav = np.asarray(cut.load_audio(), np.float32)
    wav = wav.mean(axis=0) if wav.ndim == 2 else wav
    sr = int(cut.recording.sampling_rate)
    a, b = trim_bounds(wav, sr)
    return wav[a:b], sr, a, b


def pick_from_cuts(cuts: list, scorer: ClipScorer, min_seconds: float, max_seconds: float,
                   max_candidates: int = 8) -> Clip:
    """The best whole utterance of one speaker's ``cuts`` (see the module docstring)."""
    speaker = speaker_of(cuts[0])
    near = [c for c in cuts if min_seconds <= c.duration and c.duration <= max_seconds + 2.0]  # before trimming
    loaded = []
    for cut in near:
        wav, sr, a, b = _trimmed(cut)
        if min_seconds <= len(wav) / sr <= max_seconds:
            loaded.append((cut, wav, sr, a, b))
        if len(loaded) >= 4 * max_candidates:
            break
    if not loaded:
        lengths = sorted(c.duration for c in cuts)
        raise VoiceError(f"speaker {speaker!r} has no utterance of {min_seconds:g}-{max_seconds:g} s after trimming "
                         f"silence (its {len(cuts)} utterances last {lengths[0]:.1f}-{lengths[-1]:.1f} s): pass "
                         "--min-seconds/--max-seconds, or a clip with --wav")
    candidates = spread(loaded, max_candidates)
    embeddings = [scorer.embed(wav, sr) for _, wav, sr, _, _ in candidates]
    others = [c for c in spread(cuts, 2 * max_candidates) if c.id not in {x[0].id for x in candidates}]
    extra = [scorer.embed(*_trimmed(c)[:2]) for c in others] if embeddings and embeddings[0] is not None else []
    best, all_scores = None, []
    for i, (cut, wav, sr, a, b) in enumerate(candidates):
        reference = mean_embedding([e for j, e in enumerate(embeddings) if j != i] + extra)
        scores = scorer.score(wav, sr, reference, embeddings[i])
        all_scores.append({"cut_id": cut.id, "seconds": round(len(wav) / sr, 3), **scores})
        log.info("speaker %s candidate %s (%.2f s): %s", speaker, cut.id, len(wav) / sr, scores)
        if best is None or scores["score"] > best[1]["score"]:
            best = (cut, scores, wav, sr, a, b)
    cut, scores, wav, sr, a, b = best
    sup = cut.supervisions[0]
    custom = sup.custom or {}
    source = {"kind": "cuts", "cut_id": cut.id, "recording": cut.recording.sources[0].source,
              "start": round(cut.start + a / sr, 4), "duration": round((b - a) / sr, 4),
              "candidates": len(candidates), "scores": scores, "all_scores": all_scores,
              "scorers_off": dict(scorer.unavailable)}
    return Clip(audio=wav, sample_rate=sr, speaker=speaker, text=sup.text, language=sup.language or "en-us",
                tokens=list(custom["text_tokens"]), token_langs=custom.get("text_token_langs"), source=source)


def pick_from_recording(wav: np.ndarray, sample_rate: int, scorer: ClipScorer, min_seconds: float,
                        max_seconds: float, max_candidates: int = 8) -> Tuple[int, int, dict]:
    """``(start, end, scores)`` of the best window between pauses of a recording without transcript."""
    regions = speech_regions(wav, sample_rate)
    pad = int(0.1 * sample_rate)
    windows = []
    for i in range(len(regions)):
        for j in range(i, len(regions)):
            a, b = max(0, regions[i][0] - pad), min(len(wav), regions[j][1] + pad)
            if (b - a) / sample_rate > max_seconds:
                break
            if (b - a) / sample_rate >= min_seconds:
                windows.append((a, b))
    if not windows:
        raise VoiceError(f"no stretch of {min_seconds:g}-{max_seconds:g} s between pauses in the recording "
                         f"({len(regions)} speech stretches): pass a clip of that length, or --text with a "
                         "shorter recording")
    reference = scorer.embed(wav, sample_rate)
    best = None
    for a, b in spread(windows, max_candidates):
        scores = scorer.score(wav[a:b], sample_rate, reference)
        if best is None or scores["score"] > best[2]["score"]:
            best = (a, b, scores)
    return best
