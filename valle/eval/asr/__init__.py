"""Speech recognisers for intelligibility scoring, behind one small interface.

    asr = load_asr("pocketsphinx")                    # offline, bundled en-us model, fast search
    asr = load_asr("pocketsphinx:accurate")           # pocketsphinx's default (3x slower) search
    asr = load_asr("pocketsphinx", grammar=jsgf_text) # constrained to a JSGF grammar
    asr = load_asr("hubert-large")                    # torchaudio HUBERT_ASR_LARGE (VALL-E paper)
    asr = load_asr("hubert-large:/path/to/hubert_fairseq_large_ll60k_asr_ls960.pth")
    asr = load_asr("whisper:small") / ("whisper:/path/to/ctranslate2-model")
    text = asr.transcribe(wav_float32_mono, sample_rate)

Every backend has ``.name`` (what the outputs record), ``.languages`` (base language codes it
recognises, ``None`` = many) and resamples internally to the rate it needs.  A paper-grade backend
whose weights are not on this machine raises ``BackendUnavailable`` with one line naming the
backend, the path tried and the offline alternative; nothing is ever downloaded.
"""
from __future__ import annotations

from typing import Optional, Protocol, Set

from valle.eval.backend_errors import BackendUnavailable

__all__ = ["ASRBackend", "BackendUnavailable", "load_asr", "ASR_BACKENDS", "supports_language"]

ASR_BACKENDS = ("pocketsphinx[:accurate]", "hubert-large[:path]", "whisper:<size or dir>")


class ASRBackend(Protocol):
    name: str
    languages: Optional[Set[str]]

    def transcribe(self, wav, sample_rate: int) -> str: ...


def supports_language(asr: ASRBackend, language: str) -> bool:
    from valle.eval.wer import base_language

    return asr.languages is None or base_language(language) in asr.languages


def load_asr(name: str, **opts) -> ASRBackend:
    """Build the recogniser ``name`` (see ``ASR_BACKENDS``); ``opts`` go to its constructor."""
    key = (name or "").strip()
    if key.split(":")[0] == "pocketsphinx":
        from valle.eval.asr.pocketsphinx_asr import PocketsphinxASR

        mode = key.partition(":")[2] or opts.pop("mode", None)
        return PocketsphinxASR(mode=mode, **opts)
    if key.split(":")[0] in ("hubert-large", "hubert"):
        from valle.eval.asr.hubert_asr import HubertASR

        path = key.partition(":")[2] or opts.pop("path", None)
        return HubertASR(path=path, **opts)
    if key.startswith("whisper"):
        from valle.eval.asr.whisper_asr import WhisperASR

        model = key.partition(":")[2] or opts.pop("model", "") or "small"
        return WhisperASR(model, **opts)
    raise ValueError(f"unknown ASR backend {name!r}: choose one of {', '.join(ASR_BACKENDS)}")
