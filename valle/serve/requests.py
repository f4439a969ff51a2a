"""What a synthesis request may say, checked field by field into one clear error.

The body is JSON:
    {"text": "...", "voice": "name" | null, "language": "en-us",
     "prompt": {"audio_base64": "...", "text": "...", "language": "en-us"},   # instead of "voice"
     "sampling": {"top_k": 0, "top_p": 1.0, "temperature": 1.0, "seed": 1, "max_len_ratio": 16,
                  "min_len_ratio": 0, "max_frames": null},
     "prompt_mode": "fixed" | "sliding", "crossfade_ms": 20, "exact": false}
Every problem becomes an ``ApiError`` (HTTP status, message naming the field and the fix); the
server answers it as ``{"error": message, "field": field}``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

from valle.infer.long_text import LongTextOptions
from valle.infer.synthesizer import SamplingOptions


class ApiError(Exception):
    def __init__(self, status: int, message: str, field_name: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field_name

    def body(self) -> dict:
        out = {"error": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class Limits:
    max_text_chars: int = 2000
    max_body_bytes: int = 4_000_000
    max_prompt_seconds: float = 15.0
    max_concurrent: int = 2
    request_timeout: float = 120.0  # seconds of compute per request


@dataclass
class SpeechRequest:
    text: str
    voice: Optional[str]
    language: Optional[str]
    prompt: Optional[dict]
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    prompt_mode: str = "fixed"
    crossfade_ms: float = 20.0
    exact: bool = False


_SAMPLING = {"top_k": int, "top_p": float, "temperature": float, "seed": int, "max_len_ratio": float,
             "min_len_ratio": float, "max_frames": int}
_TOP = {"text", "voice", "language", "prompt", "sampling", "prompt_mode", "crossfade_ms", "exact"}


def _typed(value, kind, name: str):
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ApiError(400, f"{name} must be a{'n integer' if kind is int else ' number'}, got {value!r}", name)


def parse_request(body: bytes, limits: Limits) -> SpeechRequest:
    if len(body) > limits.max_body_bytes:
        raise ApiError(413, f"request body is {len(body)} bytes, over the {limits.max_body_bytes}-byte limit")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ApiError(400, f"the body is not valid JSON ({e}): send a JSON object such as "
                            '{"text": "Hello.", "voice": "NAME"}') from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object with at least \"text\"")
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise ApiError(400, f"unknown fields {unknown}; known: {sorted(_TOP)}", unknown[0])
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "text is empty: give the words to say", "text")
    if len(text) > limits.max_text_chars:
        raise ApiError(413, f"text is {len(text)} characters, over this server's limit of {limits.max_text_chars}: "
                            "send it in parts", "text")
    voice, prompt = data.get("voice"), data.get("prompt")
    if voice is not None and not isinstance(voice, str):
        raise ApiError(400, "voice must be a voice name (GET /voices)", "voice")
    if prompt is not None and (not isinstance(prompt, dict) or set(prompt) - {"audio_base64", "text", "language"}):
        raise ApiError(400, 'prompt must be {"audio_base64": ..., "text": ..., "language": ...}', "prompt")
    if voice and prompt:
        raise ApiError(400, "give either voice or prompt, not both", "prompt")
    language = data.get("language")
    if language is not None and (not isinstance(language, str) or not language.strip() or len(language) > 16):
        raise ApiError(400, f"language must be a language code such as en-us, zh, ja, got {language!r}", "language")
    sampling = data.get("sampling") or {}
    if not isinstance(sampling, dict):
        raise ApiError(400, "sampling must be an object", "sampling")
    opts = SamplingOptions()
    for key, value in sampling.items():
        if key not in _SAMPLING:
            raise ApiError(400, f"unknown sampling option {key!r}; known: {sorted(_SAMPLING)}", f"sampling.{key}")
        setattr(opts, key, _typed(value, _SAMPLING[key], f"sampling.{key}"))
    if opts.max_frames is not None and opts.max_frames < 1:
        raise ApiError(400, f"sampling.max_frames must be >= 1, got {opts.max_frames}", "sampling.max_frames")
    try:
        opts.validate()
    except ValueError as e:
        raise ApiError(400, f"sampling: {str(e).replace('--', '').replace('-', '_')}", "sampling") from None
    mode = data.get("prompt_mode", "fixed")
    fade = _typed(data.get("crossfade_ms", 20.0), float, "crossfade_ms")
    try:  # the long-text options' own checks; each message starts with the field's name
        LongTextOptions(prompt_mode=mode, crossfade_ms=fade).validate()
    except ValueError as e:
        raise ApiError(400, str(e), str(e).split()[0]) from None
    exact = data.get("exact", False)
    if not isinstance(exact, bool):
        raise ApiError(400, "exact must be true or false", "exact")
    return SpeechRequest(text=text, voice=voice, language=language, prompt=prompt, sampling=opts,
                         prompt_mode=mode, crossfade_ms=fade, exact=exact)
