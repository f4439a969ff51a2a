"""Score candidate clips of a speaker with the evaluation backends: DNSMOS quality and voice similarity.

A good prompt is clean (DNSMOS P.835 OVRL, ``valle.eval.dnsmos``, on one window: ``one_window``) and typical of the speaker
(resemblyzer cosine to the mean embedding of the speaker's other utterances, ``valle.eval.speaker``).
The score is ``ovrl / 5 + similarity``, each term counted only when its backend runs here; a
backend that cannot load is reported once and left out (``--quality none`` / ``--similarity none``
turn them off), and ``scores`` in the voice's source say which ones were used.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Optional

import numpy as np

log = logging.getLogger(__name__)


class ClipScorer:
    def __init__(self, quality: str = "dnsmos", similarity: str = "resemblyzer", device: str = "cpu"):
        self._want = {"quality": quality != "none", "similarity": similarity != "none"}
        self._similarity_name, self._device = similarity, device
        self._dnsmos = self._speaker = None
        self.unavailable: Dict[str, str] = {}

    def _backend(self, kind: str):
        if not self._want[kind] or kind in self.unavailable:
            return None
        try:
            if kind == "quality" and self._dnsmos is None:
                from valle.eval.dnsmos import DNSMOS

                self._dnsmos = DNSMOS(threads=1)
            if kind == "similarity" and self._speaker is None:
                from valle.eval.speaker import load_speaker

                self._speaker = load_speaker(self._similarity_name, device=self._device)
        except (ImportError, OSError, RuntimeError, ValueError) as e:
            self.unavailable[kind] = f"{type(e).__name__}: {e}"
            log.warning("clip %s scoring is off: %s", kind, self.unavailable[kind])
            return None
        return self._dnsmos if kind == "quality" else self._speaker

    def embed(self, wav: np.ndarray, sample_rate: int) -> Optional[np.ndarray]:
        from valle.eval.audio import AudioInputError

        speaker = self._backend("similarity")
        if speaker is None:
            return None
        try:
            return np.asarray(speaker.embed(wav, sample_rate), np.float64)
        except AudioInputError:
            return None

    def score(self, wav: np.ndarray, sample_rate: int, reference: Optional[np.ndarray] = None,
              embedding: Optional[np.ndarray] = None) -> Dict[str, float]:
        """``{"dnsmos_ovrl", "similarity", "score"}`` (the terms whose backends ran)."""
        from valle.eval.speaker import cosine

        out: Dict[str, float] = {}
        dnsmos = self._backend("quality")
        if dnsmos is not None:
            out["dnsmos_ovrl"] = round(dnsmos.score(*one_window(wav, sample_rate))["ovrl"], 4)
        if reference is not None:
            emb = embedding if embedding is not None else self.embed(wav, sample_rate)
            if emb is not None:
                out["similarity"] = round(cosine(emb, reference), 4)
        out["score"] = round(out.get("dnsmos_ovrl", 0.0) / 5.0 + out.get("similarity", 0.0), 4)
        return out


def one_window(wav: np.ndarray, sample_rate: int):
    """``(audio, rate)``: the clip at DNSMOS's rate, repeated to fill exactly one 9.01 s window.

    DNSMOS's own protocol doubles a short clip until it covers a window and averages 1 s hops over
    the result (7 windows for a 4 s clip); the windows of a repeated clip hold the same speech, so
    ranking candidates on one window costs a seventh and ranks them alike."""
    from valle.eval.audio import resample, to_mono
    from valle.eval.dnsmos import SAMPLE_RATE, WINDOW_SECONDS

    audio = resample(to_mono(wav), sample_rate, SAMPLE_RATE)
    return np.resize(audio, int(WINDOW_SECONDS * SAMPLE_RATE)), SAMPLE_RATE


def mean_embedding(embeddings: List[Optional[np.ndarray]]) -> Optional[np.ndarray]:
    """The mean of the embeddings that exist (None when none does)."""
    have = [e for e in embeddings if e is not None]
    return np.mean(have, axis=0) if have else None
