"""Make a ``Voice`` from a clip: int16 audio, its transcript (or the data's tokens), a target model.

The codes are the codec's codes of exactly the stored int16 clip, so a voice synthesizes the
same codes as passing a wav of its clip and its transcript by hand. Tokens from prepared data
(stage 2's ``text_tokens``) are kept as they are; a transcript alone is tokenized with the
target's tokenizer and checked against its table (a symbol the model never saw is refused).
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from valle.voice.voice_file import Voice, VoiceError, symbols_digest
from valle.voice.voice_target import VoiceTarget

_LANG_OF_ID = {0: "en", 1: "zh", 2: "ja"}


def to_int16(wav: np.ndarray) -> np.ndarray:
    """float audio in [-1, 1] as int16 PCM (what a PCM_16 wav stores)."""
    return np.clip(np.round(np.asarray(wav, np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def tokenize(text: str, language: str, target: VoiceTarget):
    """``(tokens, token languages or None)`` of ``text`` with the target's tokenizer and table."""
    from valle.infer.text_ids import TextEncoder

    ids, lang_ids = TextEncoder(target.symbols, target.tokenizer).encode(text, language, "--language")
    if not ids:
        raise VoiceError(f"the transcript {text!r} gives no text tokens: pass the words said in the clip (--text)")
    langs = [_LANG_OF_ID.get(i, "en") for i in lang_ids] if target.tokenizer == "vallex" else None
    return [target.symbols[i] for i in ids], langs


def build_voice(name: str, speaker: str, audio: np.ndarray, sample_rate: int, text: str, language: str,
                target: VoiceTarget, codec, tokens: Optional[List[str]] = None,
                token_langs: Optional[List[str]] = None, source: Optional[dict] = None) -> Voice:
    """The voice of int16 ``audio``; ``tokens`` None: tokenize ``text`` for ``target``."""
    import torch

    if tokens is None:
        tokens, token_langs = tokenize(text, language, target)
    missing = sorted({t for t in tokens if t not in set(target.symbols)})
    if missing:
        raise VoiceError(f"text tokens {' '.join(missing)} of {text!r} are not in the symbol table of "
                         f"{target.where}: make the voice from data or a checkpoint of the same model")
    codec.check_input_rate(sample_rate, f"the clip of voice {name!r}")
    with torch.inference_mode():
        codes = codec.encode(audio.astype(np.float32) / 32768.0, sample_rate)
    return Voice(name=name, speaker=speaker, language=language, text=" ".join(text.split()), text_tokens=list(tokens),
                 tokenizer=target.tokenizer, symbols_sha256=symbols_digest(target.symbols),
                 num_symbols=len(target.symbols), codec=codec.facts(), codec_identity=codec.identity,
                 codes=codes.numpy().astype(np.int16), audio=audio.astype(np.int16), sample_rate=int(sample_rate),
                 text_token_langs=list(token_langs) if token_langs else None, source=dict(source or {}))
