"""Read a speaker prompt recording of any format, rate and channel count.

Why a module of its own: users hand over phone recordings (mp3/m4a/opus, stereo, 44.1 kHz...).
soundfile (libsndfile) reads wav/flac/ogg/opus/mp3 directly; anything else goes through lhotse's
audio backends (ffmpeg).  The result stays at its own rate and channel count: the codec's
``encode_audio`` downmixes and resamples to 24 kHz, exactly as the prepare stage did for the
training data, so prompts and training audio take the same path.

VALL-E was trained with ~3 s prompts; longer prompts cost attention time and are often worse,
so the prompt is cut to ``max_seconds`` (3 s by default, ``<= 0`` keeps it whole).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from valle.utils.input_path import not_a_file


class PromptAudioError(ValueError):
    """The prompt audio is missing, unreadable or empty."""


@dataclass
class PromptAudio:
    wav: torch.Tensor  # [channels, samples], float32
    sampling_rate: int
    path: str
    original_seconds: float

    @property
    def seconds(self) -> float:
        return self.wav.shape[1] / self.sampling_rate


def _read_soundfile(path: Path):
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # [samples, channels]
    return np.ascontiguousarray(data.T), int(sr)


def _read_lhotse(path: Path):
    from lhotse import Recording

    rec = Recording.from_file(str(path))
    return rec.load_audio().astype(np.float32), int(rec.sampling_rate)


def load_prompt_audio(path, max_seconds: float = 3.0) -> PromptAudio:
    """Load ``path`` as ``[channels, samples]`` float32, cut to the first ``max_seconds``."""
    path = Path(path)
    if not path.is_file():
        raise PromptAudioError(
            f"prompt audio {path} {not_a_file(path)}: pass an existing audio file to --audio-prompt "
            "(or fix the prompt_audio column of the --tsv file)"
        )
    errors = []
    data = sr = None
    for reader in (_read_soundfile, _read_lhotse):
        try:
            data, sr = reader(path)
            break
        except Exception as e:  # each backend raises its own error types
            errors.append(f"{reader.__name__[1:]}: {type(e).__name__}: {e}")
    if data is None:
        raise PromptAudioError(
            f"cannot read prompt audio {path} ({'; '.join(errors)}). Convert it to wav, e.g. "
            f"`ffmpeg -i {path} prompt.wav`, and pass that to --audio-prompt"
        )
    if data.ndim != 2 or data.shape[1] == 0:
        raise PromptAudioError(f"prompt audio {path} has no samples: record a few seconds of speech")
    original_seconds = data.shape[1] / sr
    if max_seconds and max_seconds > 0:
        data = data[:, : int(round(max_seconds * sr))]
    wav = torch.from_numpy(np.ascontiguousarray(data))
    if not torch.isfinite(wav).all():
        raise PromptAudioError(f"prompt audio {path} contains NaN/inf samples")
    return PromptAudio(wav=wav, sampling_rate=sr, path=str(path), original_seconds=original_seconds)
