"""A long recording with a known construction, for the ``long`` layout tests.

Real speech (the LibriSpeech and LJSpeech samples of tests/assets, espeak-ng sentences in two
voices) joined with pauses of varied length, plus a stretch of noise and music-like tones with
no words in it. ``build_long_recording`` writes one 16 kHz mono wav and returns the pieces with
their time spans and words, so a test can say which words were spoken inside any segment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import numpy as np

from valle.data.corpora.audio_check import speech_span

RATE = 16000

# voices pocketsphinx's acoustic model follows (plain en-us espeak-ng aligns at ~0.25 confidence)
ESPEAK_SENTENCES = [
    ("en-us+f2", "The quick brown fox jumps over the lazy dog near the river bank."),
    ("en-us+klatt", "She packed her books and a small lamp into the wooden chest."),
    ("en-us+f2", "Bright sunlight streamed through the tall windows of the old library."),
    ("en-us+klatt", "The committee will meet again next week to discuss the plan."),
]
# seconds of silence before each piece (varied: short ones are merged, long ones cut)
PAUSES = [0.5, 0.45, 1.2, 0.6, 2.5, 0.9, 1.6, 0.7, 1.1]


@dataclass
class Piece:
    start: float  # first and last sound of the piece (energy), seconds into the recording
    end: float
    words: List[str]  # empty for the noise/tone stretch
    kind: str  # "speech" or "noise"


def norm_words(text: str) -> List[str]:
    return [w for w in re.sub(r"[^a-z' ]", " ", text.lower()).split() if w]


def _load(path: Path) -> np.ndarray:
    import soundfile as sf
    import soxr

    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    return soxr.resample(audio, sr, RATE).astype(np.float32) if sr != RATE else audio


def _noise_and_tones(seconds: float, seed: int = 0) -> np.ndarray:
    """Half pink-ish noise, half a sequence of chords (music-like tones)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    half = n // 2
    noise = np.cumsum(rng.standard_normal(half)).astype(np.float32)
    noise -= np.convolve(noise, np.ones(64) / 64, mode="same")
    noise *= 0.3 / (np.abs(noise).max() + 1e-9)
    t = np.arange(n - half) / RATE
    tones = np.zeros(n - half, dtype=np.float32)
    note = int(0.4 * RATE)
    for k, i in enumerate(range(0, len(t), note)):
        seg = slice(i, min(len(t), i + note))
        root = 220.0 * 2 ** ((k * 5 % 12) / 12)
        for ratio in (1.0, 1.25, 1.5):
            tones[seg] += 0.1 * np.sin(2 * np.pi * root * ratio * t[seg])
    return np.concatenate([noise, tones]).astype(np.float32)


def speech_pieces(samples_dir: Path, espeak_wav, tmp: Path) -> List[Tuple[np.ndarray, str]]:
    """(audio at 16 kHz, transcript) of each real utterance used."""
    libri = samples_dir / "librispeech-mini"
    libri_text = (libri / "2412-153948.trans.txt").read_text().split(maxsplit=1)[1]
    out = [(_load(libri / "2412-153948-0000.flac"), libri_text)]
    meta = dict(line.split("|")[:2] for line in (samples_dir / "ljspeech-mini" / "metadata.csv").read_text().splitlines())
    for k, (voice, text) in enumerate(ESPEAK_SENTENCES):
        out.append((_load(espeak_wav(text, tmp / f"es{k}.wav", voice)), text))
        if k == 1:
            out.append((_load(samples_dir / "ljspeech-mini" / "wavs" / "LJ002-0020.wav"), meta["LJ002-0020"]))
    return out


def build_long_recording(samples_dir: Path, espeak_wav, dst: Path, noise_seconds: float = 5.0,
                         noise_after: int = 3) -> Tuple[List[Piece], str]:
    """Write the long recording to ``dst``; return its pieces and its full transcript."""
    import soundfile as sf

    speech = speech_pieces(samples_dir, espeak_wav, dst.parent / "_pieces")
    chunks, pieces, texts, t = [], [], [], 0.0
    items = [(a, txt, "speech") for a, txt in speech]
    items.insert(noise_after, (_noise_and_tones(noise_seconds), "", "noise"))
    for k, (audio, text, kind) in enumerate(items):
        pause = np.zeros(int(PAUSES[k % len(PAUSES)] * RATE), dtype=np.float32)
        chunks.append(pause)
        t += len(pause) / RATE
        a, b = speech_span(audio, RATE) if kind == "speech" else (0.0, len(audio) / RATE)
        pieces.append(Piece(t + a, t + b, norm_words(text), kind))
        chunks.append(audio)
        t += len(audio) / RATE
        if text:
            texts.append(text)
    chunks.append(np.zeros(int(0.8 * RATE), dtype=np.float32))
    dst.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(dst), np.concatenate(chunks), RATE)
    return pieces, " ".join(texts)
