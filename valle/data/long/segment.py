"""From per-frame speech probabilities to utterances of ``--segment-min``..``--segment-max`` seconds.

1. Speech regions: a frame starts speech at probability >= ``ON`` and speech ends after
   ``MIN_PAUSE_S`` of frames below ``OFF`` (so the gaps inside words and between close words
   never end a region).
2. A region longer than the maximum is split at its least speech-like frame between
   ``min`` and ``max`` seconds from its start (the likeliest pause between words; never a frame
   the detector is sure is speech unless the speaker never paused for ``max`` seconds).
3. Regions are packed in order: a segment is closed before a region that would make it longer
   than the maximum, and at a pause of ``SENTENCE_PAUSE_S`` or more once it is at least the
   minimum long. Each segment is padded with up to ``PAD_S`` of the surrounding silence (never
   more than half the pause, so neighbours never overlap).
Cuts therefore fall in pauses, never inside a word.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from valle.data.long.vad import FRAME_S

ON = 0.5
OFF = 0.35
MIN_PAUSE_S = 0.25
SENTENCE_PAUSE_S = 0.7
PAD_S = 0.2


@dataclass(frozen=True)
class Span:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def speech_regions(probs: np.ndarray) -> List[Tuple[int, int]]:
    """[first, last+1) frame ranges of speech (hysteresis ON/OFF, pauses of MIN_PAUSE_S end a region)."""
    min_pause = max(1, int(round(MIN_PAUSE_S / FRAME_S)))
    regions, start, last_speech, quiet = [], None, -1, 0
    for i, p in enumerate(probs):
        if start is None:
            if p >= ON:
                start, last_speech, quiet = i, i, 0
            continue
        if p >= OFF:
            last_speech, quiet = i, 0
        else:
            quiet += 1
            if quiet >= min_pause:
                regions.append((start, last_speech + 1))
                start = None
    if start is not None:
        regions.append((start, last_speech + 1))
    return regions


def split_long(region: Tuple[int, int], probs: np.ndarray, min_s: float, max_s: float) -> List[Tuple[int, int]]:
    """Split a region longer than ``max_s`` at its least speech-like frames (see the module doc)."""
    out = []
    a, b = region
    max_f = int(max_s / FRAME_S) - 1
    min_f = max(1, int(min_s / FRAME_S))
    while b - a > max_f:
        window = probs[a + min_f:a + max_f]
        smooth = np.convolve(window, np.ones(3) / 3, mode="same") if window.size >= 3 else window
        cut = a + min_f + int(np.argmin(smooth))
        out.append((a, cut))
        a = cut + 1
    out.append((a, b))
    return out


def segment_speech(probs: np.ndarray, duration: float, min_s: float, max_s: float) -> List[Span]:
    """Segments (seconds) covering every speech region of a recording of ``duration`` seconds."""
    regions = [r for reg in speech_regions(probs) for r in split_long(reg, probs, min_s, max_s - 2 * PAD_S)]
    groups: List[List[Tuple[int, int]]] = []
    for r in regions:
        if groups:
            cur = groups[-1]
            length = (cur[-1][1] - cur[0][0]) * FRAME_S
            pause = (r[0] - cur[-1][1]) * FRAME_S
            grown = (r[1] - cur[0][0]) * FRAME_S + 2 * PAD_S
            if grown <= max_s and not (pause >= SENTENCE_PAUSE_S and length >= min_s):
                cur.append(r)
                continue
        groups.append([r])
    spans = []
    for k, g in enumerate(groups):
        start, end = g[0][0] * FRAME_S, min(duration, g[-1][1] * FRAME_S)
        before = start - (groups[k - 1][-1][1] * FRAME_S if k else 0.0)
        after = (groups[k + 1][0][0] * FRAME_S if k + 1 < len(groups) else duration) - end
        pad_before = min(PAD_S, before / 2 if k else before)
        pad_after = min(PAD_S, after / 2 if k + 1 < len(groups) else after)
        spans.append(Span(round(max(0.0, start - pad_before), 3), round(min(duration, end + pad_after), 3)))
    return spans


NOT_SPEECH_DBFS = -45.0  # a frame this loud that the detector calls non-speech is sound (noise, music)
NOT_SPEECH_MIN_S = 1.0


def sound_without_speech(probs: np.ndarray, levels: np.ndarray, spans: List[Span]) -> List[Span]:
    """Stretches of at least NOT_SPEECH_MIN_S outside every segment whose frames are loud but not
    speech: what the detector left out that was not silence, so the user can see it (never silent)."""
    loud = (levels > NOT_SPEECH_DBFS) & (probs < ON)
    for s in spans:
        loud[int(s.start / FRAME_S):int(np.ceil(s.end / FRAME_S))] = False
    out, start = [], None
    for i, v in enumerate(np.append(loud, False)):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if (i - start) * FRAME_S >= NOT_SPEECH_MIN_S:
                out.append(Span(round(start * FRAME_S, 3), round(i * FRAME_S, 3)))
            start = None
    return out
