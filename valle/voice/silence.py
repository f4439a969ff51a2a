"""Where the speech is in a clip, by the rule prepare's ``--trim-silence`` uses (``speech_span``).

``trim_bounds`` cuts leading and trailing silence exactly as ``valle.data.corpora.audio_check``
does for a corpus; ``speech_regions`` lists the speech stretches of a long recording separated by
pauses of at least ``min_pause`` seconds, so a clip taken from it never starts or ends in a word.
A 10 ms frame is speech when its level is within ``TRIM_TOP_DB`` of the loudest frame and above
``TRIM_FLOOR_DBFS``.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from valle.data.corpora.audio_check import TRIM_FLOOR_DBFS, TRIM_HOP_S, TRIM_TOP_DB, speech_span


def trim_bounds(wav: np.ndarray, sample_rate: int) -> Tuple[int, int]:
    """``(start, end)`` samples of ``wav`` without its leading and trailing silence (``(0, 0)``: no speech)."""
    start, end = speech_span(np.asarray(wav, np.float32), sample_rate)
    return int(round(start * sample_rate)), min(len(wav), int(round(end * sample_rate)))


def speech_regions(wav: np.ndarray, sample_rate: int, min_pause: float = 0.25) -> List[Tuple[int, int]]:
    """``[(start, end), ...]`` samples of the speech stretches between pauses of >= ``min_pause`` s."""
    hop = max(1, int(round(TRIM_HOP_S * sample_rate)))
    n = len(wav) // hop
    if n == 0:
        return []
    level = 10.0 * np.log10(np.mean(np.asarray(wav[: n * hop], np.float64).reshape(n, hop) ** 2, axis=1) + 1e-12)
    speech = np.flatnonzero(level > max(level.max() - TRIM_TOP_DB, TRIM_FLOOR_DBFS))
    regions: List[List[int]] = []
    gap = int(round(min_pause / TRIM_HOP_S))
    for i in speech:
        if regions and i - regions[-1][1] <= gap:
            regions[-1][1] = i + 1
        else:
            regions.append([i, i + 1])
    return [(a * hop, min(len(wav), b * hop)) for a, b in regions]
