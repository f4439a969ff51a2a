"""Whisper through faster-whisper (CTranslate2), for English and the other Whisper languages.

``model`` is a size (``small``, ``large-v3``: looked up in the Hugging Face cache as
``Systran/faster-whisper-<size>``) or a directory holding a converted model.  faster-whisper is
not installed by setup.py (``pip install faster-whisper``); nothing is downloaded
(``local_files_only``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from valle.eval.audio import resample, to_mono
from valle.eval.backend_errors import BackendUnavailable

SAMPLE_RATE = 16000


class WhisperASR:
    languages = None  # Whisper's ~100 languages; the language is passed per call

    def __init__(self, model: str, device: str = "cpu", compute_type: str = "int8", language: Optional[str] = None):
        where = Path(model)
        if not where.is_dir():
            from valle.eval.weights import hf_hub_snapshot

            where = hf_hub_snapshot(f"Systran/faster-whisper-{model}") or Path(
                f"<Hugging Face cache>/models--Systran--faster-whisper-{model}"
            )
        label = f"--asr whisper:{model}"
        if not (where / "model.bin").is_file():
            raise BackendUnavailable(label, f"no CTranslate2 model.bin in {where}", "--asr pocketsphinx",
                                     "pass a converted model directory as whisper:<dir>")
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise BackendUnavailable(label, f"the faster-whisper package is not installed ({e})",
                                     "--asr pocketsphinx", "pip install faster-whisper") from e
        self._model = WhisperModel(str(where), device=device, compute_type=compute_type, local_files_only=True)
        self.language = language
        self.name = f"faster-whisper ({where.name if where.name != 'snapshots' else model})"

    def transcribe(self, wav, sample_rate: int, language: Optional[str] = None) -> str:
        audio = resample(to_mono(wav), sample_rate, SAMPLE_RATE)
        segments, _ = self._model.transcribe(audio, language=language or self.language, beam_size=5)
        return " ".join(s.text.strip() for s in segments).strip()
