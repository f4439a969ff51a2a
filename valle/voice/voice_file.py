"""One saved voice: a short clip of a speaker with its codec codes and text tokens, in one file.

A voice replaces ``--audio-prompt`` + ``--text-prompt`` on every synthesis call: it holds the
clip (int16 PCM at its own rate), the codes the codec made of exactly that clip, the transcript
and its text tokens, and what those depend on (the codec's facts and identity, the sha256 of the
symbol table the tokens belong to, the tokenizer and language), plus the speaker and the source.

The file is an uncompressed ``.npz`` (a zip of ``.npy`` arrays) read with ``allow_pickle=False``:
``codes`` int16 ``[frames, Q]``, ``audio`` int16 ``[samples]`` and ``meta``, UTF-8 JSON as uint8
bytes. Loading executes nothing (no pickle), refuses members larger than ``MAX_MEMBER_BYTES``,
and checks every field, so a corrupt or foreign file is one clear ``VoiceFileError``.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from valle.utils.input_path import not_a_file

FORMAT = "valle-voice"
FORMAT_VERSION = 1
VOICE_SUFFIX = ".voice.npz"
MAX_MEMBER_BYTES = 64 << 20  # a 10 s clip is under 1 MB; anything near this is not a voice
REMAKE = "make it again with python -m valle.bin.make_voice"


class VoiceError(ValueError):
    """A voice cannot be used; the message names the voice, why, and the fix."""


class VoiceFileError(VoiceError):
    """A voice file is missing, unreadable, corrupt or not a voice file."""


def symbols_digest(symbols: Sequence[str]) -> str:
    """sha256 of a symbol table (its symbols in id order): what the voice's token ids depend on."""
    return hashlib.sha256("\n".join(symbols).encode("utf-8")).hexdigest()


@dataclass
class Voice:
    name: str
    speaker: str
    language: str  # the language code the tokens were made with (en-us, de, zh, ...)
    text: str  # the transcript of the clip
    text_tokens: List[str]  # symbol strings of ``text`` (the training data's tokens when from a corpus)
    tokenizer: str  # espeak, pinyin, openjtalk or vallex
    symbols_sha256: str  # symbols_digest of the table the tokens were checked against
    num_symbols: int
    codec: Dict[str, Any]  # codec facts (valle.codec.Codec.facts())
    codec_identity: str  # valle.codec.codec_identity: the spec plus the weights' sha256
    codes: np.ndarray  # int16 [frames, num_quantizers]: the codec's codes of ``audio``
    audio: np.ndarray  # int16 [samples] mono: the clip itself
    sample_rate: int  # of ``audio``
    text_token_langs: Optional[List[str]] = None  # per token (vallex tokenizer only)
    source: Dict[str, Any] = field(default_factory=dict)  # where the clip came from, scores, trim

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate

    def wav(self) -> np.ndarray:
        """The clip as float32 ``[samples]`` in [-1, 1) (exactly what a PCM_16 wav of it reads back as)."""
        return self.audio.astype(np.float32) / 32768.0

    def prompt_codes(self):
        """The codes as ``torch.LongTensor[frames, Q]`` (what ``Synthesizer`` takes as a prompt)."""
        import torch

        return torch.from_numpy(self.codes.astype(np.int64))

    def meta(self) -> Dict[str, Any]:
        """Everything but the arrays (what the file's ``meta`` member holds)."""
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "name": self.name, "speaker": self.speaker,
            "language": self.language, "text": self.text, "text_tokens": list(self.text_tokens),
            "text_token_langs": list(self.text_token_langs) if self.text_token_langs else None,
            "tokenizer": self.tokenizer, "symbols_sha256": self.symbols_sha256, "num_symbols": self.num_symbols,
            "codec": dict(self.codec), "codec_identity": self.codec_identity, "sample_rate": self.sample_rate,
            "seconds": round(self.seconds, 4), "frames": int(self.codes.shape[0]), "source": dict(self.source),
        }

    def summary(self) -> Dict[str, Any]:
        """A listing row: name, speaker, language, seconds, text, codec, source (no token lists)."""
        m = self.meta()
        row = {k: m[k] for k in ("name", "speaker", "language", "seconds", "text", "tokenizer", "source")}
        row["codec"] = self.codec.get("codec") or self.codec.get("name")
        return row


def save_voice(path, voice: Voice) -> Path:
    """Write ``voice`` to ``path`` atomically (a reader never sees half a file); returns the path."""
    from valle.utils.atomic import atomic_path

    _check(voice, str(path))
    meta = json.dumps(voice.meta(), ensure_ascii=False, sort_keys=True).encode("utf-8")
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, codes=voice.codes.astype(np.int16), audio=voice.audio.astype(np.int16),
                     meta=np.frombuffer(meta, dtype=np.uint8))
    return path


def read_voice(path) -> Voice:
    """The voice in file ``path``; any problem is a ``VoiceFileError`` naming the file and the fix."""
    path = Path(path)
    why = not_a_file(path)
    if why:
        raise VoiceFileError(f"voice file {path} {why}: pass a file written by python -m valle.bin.make_voice "
                             "(list a folder of voices with python -m valle.bin.make_voice --list DIR)")
    try:
        with zipfile.ZipFile(path) as z:
            sizes = {i.filename: i.file_size for i in z.infolist()}
        missing = [m for m in ("codes.npy", "audio.npy", "meta.npy") if m not in sizes]
        if missing:
            raise ValueError(f"it lacks {', '.join(missing)}")
        big = [m for m, n in sizes.items() if n > MAX_MEMBER_BYTES]
        if big:
            raise ValueError(f"member {big[0]} is {sizes[big[0]]} bytes, far more than a voice clip")
        with np.load(path, allow_pickle=False) as npz:
            codes, audio, raw = npz["codes"], npz["audio"], npz["meta"]
        meta = json.loads(raw.astype(np.uint8).tobytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError("its meta is not a valle voice's")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format version {meta.get('format_version')!r}, this valle reads {FORMAT_VERSION}")
        voice = Voice(
            name=str(meta["name"]), speaker=str(meta["speaker"]), language=str(meta["language"]),
            text=str(meta["text"]), text_tokens=[str(t) for t in meta["text_tokens"]],
            tokenizer=str(meta["tokenizer"]), symbols_sha256=str(meta["symbols_sha256"]),
            num_symbols=int(meta["num_symbols"]), codec=dict(meta["codec"]),
            codec_identity=str(meta["codec_identity"]), codes=codes, audio=audio,
            sample_rate=int(meta["sample_rate"]),
            text_token_langs=[str(t) for t in meta["text_token_langs"]] if meta.get("text_token_langs") else None,
            source=dict(meta.get("source") or {}),
        )
        _check(voice, str(path))
    except VoiceFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise VoiceFileError(f"voice file {path} is corrupt or not a voice file ({type(e).__name__}: {e}); "
                             f"{REMAKE}") from e
    return voice


def _check(voice: Voice, where: str) -> None:
    """Shapes, dtypes and ranges a synthesizer relies on."""
    problems = []
    codes, audio = np.asarray(voice.codes), np.asarray(voice.audio)
    q = voice.codec.get("num_quantizers")
    if codes.ndim != 2 or codes.shape[0] == 0 or codes.shape[1] != q or codes.dtype.kind not in "iu":
        problems.append(f"codes of shape {codes.shape} ({codes.dtype}), expected integer [frames, {q}]")
    elif int(codes.min()) < 0 or int(codes.max()) >= int(voice.codec.get("codebook_size") or 0):
        problems.append(f"codes {int(codes.min())}..{int(codes.max())} outside the codec's "
                        f"0..{int(voice.codec.get('codebook_size') or 0) - 1}")
    if audio.ndim != 1 or audio.size == 0 or audio.dtype.kind not in "iu":
        problems.append(f"audio of shape {audio.shape} ({audio.dtype}), expected int16 [samples]")
    if voice.sample_rate <= 0:
        problems.append(f"sample rate {voice.sample_rate}")
    if not voice.text.strip() or not voice.text_tokens:
        problems.append("no transcript or no text tokens")
    if voice.text_token_langs is not None and len(voice.text_token_langs) != len(voice.text_tokens):
        problems.append("text_token_langs and text_tokens differ in length")
    if problems:
        raise VoiceFileError(f"voice {voice.name!r} ({where}) is not usable: {'; '.join(problems)}; {REMAKE}")
