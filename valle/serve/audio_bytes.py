"""Float audio to what a client receives: 16-bit samples (stream chunks) or a wav file of them.

Both go through ``to_int16`` so that the samples of a streamed chunk and of the one-shot wav are
the same integers (the tests compare them exactly).
"""
from __future__ import annotations

import io

import numpy as np
import torch


def to_int16(wav: torch.Tensor) -> np.ndarray:
    x = wav.detach().float().cpu().numpy().reshape(-1)
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit wav file of int16 ``samples``."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.asarray(samples, dtype=np.int16), int(sample_rate), subtype="PCM_16", format="WAV")
    return buf.getvalue()
