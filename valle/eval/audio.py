"""Audio as the scorers want it: mono float32 at the rate each backend needs.

Synthesized wavs come at the codec's rate (Encodec 24 kHz, codec2 8 kHz), references at the
corpus rate (LibriTTS 24 kHz, LibriSpeech 16 kHz); every backend resamples what it gets with
``resample`` here, so no caller has to know a backend's rate.
"""
from __future__ import annotations

from math import gcd
from pathlib import Path
from typing import Tuple

import numpy as np


class AudioInputError(ValueError):
    """A wav to score is missing, unreadable, empty or not finite."""


def to_mono(wav) -> np.ndarray:
    """``[samples]``, ``[channels, samples]`` or a torch tensor -> float32 ``[samples]``."""
    if hasattr(wav, "detach"):
        wav = wav.detach().cpu().numpy()
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 2:
        # channels first is what torchaudio/soundfile(always_2d).T give; a [samples, 2] array
        # (soundfile's own layout) has the short axis second
        wav = wav.mean(axis=0 if wav.shape[0] <= wav.shape[1] else 1)
    if wav.ndim != 1:
        raise AudioInputError(f"audio of shape {wav.shape}: expected [samples] or [channels, samples]")
    return np.ascontiguousarray(wav, dtype=np.float32)


def resample(wav: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling of a mono float32 signal (scipy's Kaiser-window FIR)."""
    wav = to_mono(wav)
    if int(sample_rate) == int(target_rate) or wav.size == 0:
        return wav
    from scipy.signal import resample_poly

    g = gcd(int(sample_rate), int(target_rate))
    out = resample_poly(wav, int(target_rate) // g, int(sample_rate) // g)
    return np.ascontiguousarray(out, dtype=np.float32)


def read_audio(path, what: str = "audio", allow_empty: bool = False) -> Tuple[np.ndarray, int]:
    """Read ``path`` as mono float32; ``what`` names the column/option in error messages;
    ``allow_empty``: a file with no samples is returned as it is (a model that said nothing)."""
    path = Path(path)
    if not path.is_file():
        raise AudioInputError(f"{what} {path} does not exist")
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile raises its own error type
        raise AudioInputError(f"cannot read {what} {path}: {e}; convert it to wav (ffmpeg -i in out.wav)") from e
    if data.shape[0] == 0 and not allow_empty:
        raise AudioInputError(f"{what} {path} has no samples")
    wav = np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)
    if not np.isfinite(wav).all():
        raise AudioInputError(f"{what} {path} contains NaN/inf samples")
    return wav, int(sr)


def rms_dbfs(wav: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (-inf for digital silence)."""
    wav = to_mono(wav)
    if wav.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")
