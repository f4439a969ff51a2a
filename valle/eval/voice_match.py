"""Does an output sound like its prompt's voice, among a closed set of voices? (bench/learn.py)

Speaker similarity alone (the cosine of two speaker embeddings) has no fixed scale: GE2E puts two
different espeak-ng voices at 0.6-0.9. So beside the mean cosine of each output to its own prompt
(``sim_prompt``, the paper's measure), ``VoiceMatcher.score`` gives the mean cosine to its own voice's
centroid (the mean embedding of some of its recordings) and to the *other* voices' centroids (a
centroid sits closer to everything than a single recording does, so compare centroid with centroid),
and the share of outputs whose nearest centroid is their own voice (closed-set identification). The
same figures for the ground-truth recordings tell how far the embedding separates the voices at all.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from valle.eval.audio import AudioInputError
from valle.eval.speaker import cosine


class VoiceMatcher:
    def __init__(self, speaker, voices: Dict[str, Sequence[Tuple[np.ndarray, int]]]):
        """``speaker``: a ``valle.eval.speaker`` backend; ``voices``: voice name -> recordings (wav, rate)."""
        if len(voices) < 2:
            raise ValueError(f"voice identification needs at least 2 voices, got {len(voices)}")
        self.speaker = speaker
        self.centroids = {}
        for name, recordings in voices.items():
            embs = [e for e in (self.embed(w, sr) for w, sr in recordings) if e is not None]
            if not embs:
                raise ValueError(f"voice {name!r}: none of its {len(recordings)} recordings has speech to embed")
            self.centroids[name] = np.mean(embs, axis=0)

    def embed(self, wav: np.ndarray, sample_rate: int) -> Optional[np.ndarray]:
        """The speaker embedding, or None for audio without speech to embed (silent, too short)."""
        if len(wav) == 0:
            return None
        try:
            return self.speaker.embed(wav, sample_rate)
        except AudioInputError:
            return None

    def score(self, outputs: Sequence[Tuple[np.ndarray, int]], voices: Sequence[str],
              prompts: Sequence[Optional[np.ndarray]]) -> dict:
        """``outputs[i]`` (wav, rate), meant to be in voice ``voices[i]`` after the prompt whose embedding is
        ``prompts[i]``. Means over the outputs that could be embedded (``not_embedded`` counts the others,
        which count as not identified)."""
        if not len(outputs) == len(voices) == len(prompts):
            raise ValueError("outputs, voices and prompts must have one entry per output")
        unknown = sorted(set(voices) - set(self.centroids))
        if unknown:
            raise ValueError(f"voices {unknown} are not among {sorted(self.centroids)}")
        to_prompt: List[float] = []
        to_own: List[float] = []
        to_others: List[float] = []
        identified, missing = 0, 0
        for (wav, rate), voice, prompt in zip(outputs, voices, prompts):
            e = self.embed(wav, rate)
            if e is None:
                missing += 1
                continue
            sims = {name: cosine(e, c) for name, c in self.centroids.items()}
            identified += max(sims, key=sims.get) == voice
            to_own.append(sims[voice])
            to_others.append(float(np.mean([s for name, s in sims.items() if name != voice])))
            if prompt is not None:
                to_prompt.append(cosine(e, prompt))
        mean = (lambda xs: round(float(np.mean(xs)), 4) if xs else None)  # noqa: E731
        return {"sim_prompt": mean(to_prompt), "sim_own_voice": mean(to_own), "sim_other_voices": mean(to_others),
                "voice_identified": round(identified / len(outputs), 4) if len(outputs) else None,
                "not_embedded": missing}
