"""Best-of-N synthesis reranked by what a listener checks: the words (ASR) and the voice.

``valle.bin.infer --best-of N --rerank asr|similarity|both`` synthesizes N whole candidates with
seeds ``seed, seed+1, ...`` and keeps the one with the best score, what users do by hand with
Whisper:
- ``asr``: the lowest WER of the candidate's transcript against the text (ties: the first);
- ``similarity``: the highest speaker-embedding cosine to the audio prompt;
- ``both``: similarity minus WER (both are on a 0-1 scale for usable outputs).
Without ``--rerank``, ``--best-of`` keeps its meaning: N sampled AR continuations ranked by their likelihood.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Callable, List, Optional, Tuple

log = logging.getLogger("valle.eval")

RERANK_MODES = ("none", "asr", "similarity", "both")


class Reranker:
    def __init__(self, mode: str, asr: str = "pocketsphinx", speaker: str = "resemblyzer", device: str = "cpu"):
        from valle.eval.asr import load_asr
        from valle.eval.speaker import load_speaker

        if mode not in RERANK_MODES[1:]:
            raise ValueError(f"--rerank {mode!r}: choose one of {', '.join(RERANK_MODES)}")
        self.mode = mode
        self.asr = load_asr(asr) if mode in ("asr", "both") else None
        self.speaker = load_speaker(speaker, device=device) if mode in ("similarity", "both") else None

    def score(self, wav, sample_rate: int, text: str, language: str, prompt_embedding) -> dict:
        from valle.eval.audio import AudioInputError
        from valle.eval.speaker import cosine
        from valle.eval.wer import utterance_errors

        out = {}
        if self.asr is not None:
            out["hypothesis"] = self.asr.transcribe(wav, sample_rate)
            out["wer"] = round(utterance_errors(text, out["hypothesis"], language).rate, 4)
        if self.speaker is not None:
            try:
                out["similarity"] = round(cosine(self.speaker.embed(wav, sample_rate), prompt_embedding), 4)
            except AudioInputError:  # a silent candidate: the worst similarity
                out["similarity"] = -1.0
        out["score"] = out.get("similarity", 0.0) - out.get("wer", 0.0)
        return out

    def prompt_embedding(self, prompt_audio) -> Optional[object]:
        if self.speaker is None:
            return None
        from valle.eval.audio import read_audio

        if prompt_audio is None:
            raise ValueError("--rerank similarity/both compares with the voice of --audio-prompt: pass one")
        if isinstance(prompt_audio, tuple):  # (wav, sample rate) of a saved voice
            return self.speaker.embed(*prompt_audio)
        return self.speaker.embed(*read_audio(prompt_audio, "--audio-prompt"))


def best_of(synthesize: Callable, options, n: int, reranker: Reranker, text: str, language: str,
            prompt_audio, sample_rate: int) -> Tuple[object, List[dict]]:
    """Run ``synthesize(options)`` ``n`` times with seeds ``seed..seed+n-1``; the best result and all scores."""
    from valle.eval.asr import supports_language

    if reranker.asr is not None and not supports_language(reranker.asr, language):
        raise ValueError(f"--rerank {reranker.mode}: {reranker.asr.name} does not recognise --language {language}; "
                         "use --rerank similarity or --rerank-asr whisper:<size or dir>")
    reference = reranker.prompt_embedding(prompt_audio)
    base_seed = 0 if options.seed is None else int(options.seed)
    best, best_score, scores = None, None, []
    for i in range(n):
        candidate = synthesize(dataclasses.replace(options, best_of=1, seed=base_seed + i))
        s = {"seed": base_seed + i, **reranker.score(candidate.wav.numpy(), sample_rate, text, language, reference)}
        scores.append(s)
        log.info("candidate %d/%d: %s", i + 1, n, {k: v for k, v in s.items() if k != "hypothesis"})
        if best_score is None or s["score"] > best_score:
            best, best_score = candidate, s["score"]
    for s in scores:
        s["chosen"] = s["score"] == best_score and not any(t.get("chosen") for t in scores)
    return best, scores
