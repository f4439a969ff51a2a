"""The voices a server offers: a folder of prompts, looked up by a plain name, never left.

A voice is ``<folder>/<name>.wav`` (any format ``audio_prompt`` reads, named ``.wav`` here) with
its transcript ``<name>.txt`` and optionally its language ``<name>.lang`` (default: the server's
``--language``). The saved-voice files of ``valle.voice`` (``<name>.voice.npz``) plug in behind
the same two methods (``names``/``get``) once that package is merged.

A name is 1-128 characters of ``[A-Za-z0-9_.-]`` not starting with ``.`` or ``-``: no separators,
no ``..``, no hidden files. A name's files must resolve (through links) inside the folder. So no
request can make the server read a file outside its voices folder. Codes are computed once per
voice and kept.

Uploaded prompts (the web page's "your own prompt") arrive as base64 audio in the request and are
decoded in memory (``prompt_from_upload``): nothing is written.
"""
from __future__ import annotations

import base64
import binascii
import io
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

from valle.infer.audio_prompt import PromptAudio

NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class VoiceNotFound(LookupError):
    """A well-formed name with no voice behind it."""


class VoiceNameError(ValueError):
    """A name that is not a plain name (separators, ``..``, odd characters) or leaves the folder."""


class UploadError(ValueError):
    """An uploaded prompt that cannot be used (not base64, not audio, too long, no transcript)."""


def check_voice_name(name) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise VoiceNameError(
            f"voice name {name!r} is not a plain name: use 1-128 letters, digits, '_', '.' or '-', not starting "
            "with '.' or '-' (no '/' and no '..': GET /voices lists the names)")
    return name


@dataclass
class VoicePrompt:
    name: str
    text: str
    language: Optional[str]
    codes: torch.Tensor  # [frames, Q]
    seconds: float
    audio_path: Optional[str] = None  # the recording (for speaker similarity), None for uploads


class PromptFolder:
    """``<name>.wav`` + ``<name>.txt`` (+ ``<name>.lang``) prompts in one folder."""

    def __init__(self, folder, synth):
        self.folder = Path(folder)
        self.real = os.path.realpath(self.folder)
        self.synth = synth
        self._cache: Dict[str, VoicePrompt] = {}
        self._lock = threading.Lock()

    def _inside(self, path: Path, name: str) -> Path:
        if os.path.dirname(os.path.realpath(path)) != self.real:
            raise VoiceNameError(f"voice {name!r}: {path.name} resolves outside the voices folder; copy the file "
                                 "into the folder instead of linking it")
        return path

    def names(self) -> List[str]:
        if not self.folder.is_dir():
            return []
        out = []
        for wav in sorted(self.folder.glob("*.wav")):
            name = wav.name[:-4]
            if NAME_RE.fullmatch(name) and (self.folder / f"{name}.txt").is_file():
                out.append(name)
        return out

    def describe(self) -> List[dict]:
        voices = []
        for name in self.names():
            try:
                v = self.get(name)
            except (ValueError, OSError) as e:  # a broken voice is listed with its reason, never hidden
                voices.append({"name": name, "error": str(e)})
                continue
            voices.append({"name": v.name, "text": v.text, "language": v.language, "seconds": round(v.seconds, 2)})
        return voices

    def get(self, name) -> VoicePrompt:
        check_voice_name(name)
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        wav, txt, lang = (self.folder / f"{name}{s}" for s in (".wav", ".txt", ".lang"))
        if not wav.is_file() or not txt.is_file():
            raise VoiceNotFound(f"no voice {name!r}: GET /voices lists the voices of this server")
        self._inside(wav, name)
        self._inside(txt, name)
        text = txt.read_text(encoding="utf-8").strip()
        language = None
        if lang.is_file():
            language = self._inside(lang, name).read_text(encoding="utf-8").strip() or None
        from valle.infer.audio_prompt import load_prompt_audio

        audio = load_prompt_audio(wav)
        codes = self.synth.prompt_codes(audio)
        voice = VoicePrompt(name, text, language, codes, audio.seconds, str(wav))
        with self._lock:
            self._cache[name] = voice
        return voice


def prompt_from_upload(synth, audio_base64, text, language: Optional[str], max_seconds: float,
                       max_bytes: int) -> VoicePrompt:
    """A prompt from a request: base64 audio (wav/flac/ogg) and its transcript, decoded in memory."""
    import soundfile as sf

    if not isinstance(text, str) or not text.strip():
        raise UploadError("prompt.text is empty: give the words said in the uploaded prompt audio")
    if not isinstance(audio_base64, str) or not audio_base64:
        raise UploadError("prompt.audio_base64 is empty: give the prompt recording as base64 (wav, flac or ogg)")
    if len(audio_base64) > max_bytes * 4 // 3 + 4:
        raise UploadError(f"prompt.audio_base64 is over {max_bytes} bytes: upload at most "
                          f"{max_seconds:g} s of audio")
    try:
        raw = base64.b64decode(audio_base64.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise UploadError("prompt.audio_base64 is not valid base64") from None
    try:
        data, sr = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile raises its own error types
        raise UploadError(f"prompt audio cannot be read ({type(e).__name__}): upload wav, flac or ogg") from None
    if data.shape[0] == 0:
        raise UploadError("prompt audio has no samples: record a few seconds of speech")
    seconds = data.shape[0] / sr
    if seconds > max_seconds:
        raise UploadError(f"prompt audio is {seconds:.1f} s, over the {max_seconds:g} s limit: upload 3-10 s "
                          "of speech (and only the words said in it as its text)")
    wav = torch.from_numpy(np.ascontiguousarray(data.T))
    if not torch.isfinite(wav).all():
        raise UploadError("prompt audio contains NaN/inf samples")
    codes = synth.prompt_codes(PromptAudio(wav=wav, sampling_rate=int(sr), path="(uploaded prompt)",
                                           original_seconds=seconds))
    return VoicePrompt("(uploaded)", text.strip(), language, codes, seconds)
