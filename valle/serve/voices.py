"""The voices a server offers: one folder, looked up by a plain name, never left.

A voice is either a saved voice of ``valle.voice`` (``<name>.voice.npz``: codes and text tokens
made for this model, checked by ``fitted_voice_prompt``), or a prompt recording ``<name>.wav`` with
its transcript ``<name>.txt`` and optionally its language ``<name>.lang`` (default: the server's
``--language``); the saved voice wins when both exist.

A name is ``valle.voice.check_voice_name``'s: 1-128 characters of ``[A-Za-z0-9_.-]`` not starting
with ``.`` or ``-``: no separators, no ``..``, no hidden files. A name's files must resolve
(through links) inside the folder. So no request can make the server read a file outside its
voices folder. Codes are computed once per voice and kept.

Uploaded prompts (the web page's "your own prompt") arrive as base64 audio in the request and are
decoded in memory (``prompt_from_upload``): nothing is written.
"""
from __future__ import annotations

import base64
import binascii
import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

from valle.infer.audio_prompt import PromptAudio
from valle.voice import VOICE_SUFFIX, VoiceNameError, check_voice_name
from valle.voice.voice_store import NAME_RE


class VoiceNotFound(LookupError):
    """A well-formed name with no voice behind it."""


class UploadError(ValueError):
    """An uploaded prompt that cannot be used (not base64, not audio, too long, no transcript)."""


@dataclass
class VoicePrompt:
    name: str
    text: str
    language: Optional[str]
    codes: torch.Tensor  # [frames, Q]
    seconds: float
    audio_path: Optional[str] = None  # the recording (for speaker similarity), None for uploads
    prompt_ids: Optional[tuple] = None  # a saved voice's (symbol ids, language ids) of its transcript


class PromptFolder:
    """Saved voices (``<name>.voice.npz``) and ``<name>.wav`` + ``<name>.txt`` (+ ``<name>.lang``)
    prompts in one folder."""

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
        out = set()
        for wav in self.folder.glob("*.wav"):
            name = wav.name[:-4]
            if NAME_RE.fullmatch(name) and (self.folder / f"{name}.txt").is_file():
                out.add(name)
        for saved in self.folder.glob(f"*{VOICE_SUFFIX}"):
            name = saved.name[:-len(VOICE_SUFFIX)]
            if NAME_RE.fullmatch(name):
                out.add(name)
        return sorted(out)

    def describe(self) -> List[dict]:
        voices = []
        for name in self.names():
            try:
                v = self.get(name)
            except (ValueError, LookupError, OSError) as e:  # a broken voice is listed with its reason
                voices.append({"name": name, "error": str(e)})
                continue
            voices.append({"name": v.name, "text": v.text, "language": v.language, "seconds": round(v.seconds, 2)})
        return voices

    def get(self, name) -> VoicePrompt:
        check_voice_name(name)
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        if (self.folder / f"{name}{VOICE_SUFFIX}").exists():
            voice = self._saved(name)
        else:
            voice = self._recording(name)
        with self._lock:
            self._cache[name] = voice
        return voice

    def _saved(self, name: str) -> VoicePrompt:
        from valle.voice import fitted_voice_prompt, load_voice

        voice = load_voice(name, self.folder)  # refuses a file that resolves outside the folder
        codes, ids = fitted_voice_prompt(voice, self.synth.codec, self.synth.text.table, self.synth.sources.get("ar", ""))
        return VoicePrompt(name, voice.text, voice.language, codes, voice.seconds, prompt_ids=ids)

    def _recording(self, name: str) -> VoicePrompt:
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
        return VoicePrompt(name, text, language, self.synth.prompt_codes(audio), audio.seconds, str(wav))


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
