"""Read a speaker prompt recording of any format, rate and channel count.

Why a module of its own: users hand over phone recordings (mp3/m4a/opus, stereo, 44.1 kHz...).
soundfile (libsndfile) reads wav/flac/ogg/opus/mp3 directly; anything else goes through lhotse's
audio backends (ffmpeg).  The result stays at its own rate and channel count: the codec's
``encode_audio`` downmixes and resamples to 24 kHz, exactly as the prepare stage did for the
training data, so prompts and training audio take the same path.

VALL-E was trained with ~3 s prompts; longer prompts cost attention time and are often worse.
But the prompt's transcript must describe exactly its audio: cutting the audio and keeping the
whole transcript is the prompt/transcript mismatch that makes VALL-E babble. So the command
line keeps the prompt whole, warns above ``LONG_PROMPT_SECONDS`` and refuses (``check_prompt_length``)
a prompt longer than an explicit ``--prompt-seconds`` instead of cutting it; ``max_seconds``
here (library callers that pass codes without a transcript) still cuts.
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


LONG_PROMPT_SECONDS = 10.0


def check_prompt_length(prompt: PromptAudio, limit: float, log) -> None:
    """Refuse a prompt longer than ``limit`` s (> 0) rather than cut it away from its transcript;
    warn when a prompt is long enough to slow synthesis down and drift from the training prompts."""
    if limit and prompt.original_seconds > limit:
        raise PromptAudioError(
            f"prompt audio {prompt.path} is {prompt.original_seconds:.1f} s, longer than --prompt-seconds {limit:g}: "
            "cutting the audio would keep its whole --text-prompt, a transcript of words no longer heard (the "
            "mismatch that makes VALL-E babble). Trim the recording and its transcript together (e.g. `ffmpeg -i "
            f"{prompt.path} -t {limit:g} prompt.wav` and only the words said in it), or raise --prompt-seconds"
        )
    if prompt.original_seconds > LONG_PROMPT_SECONDS:
        log.warning("prompt audio %s is %.1f s: prompts of 3-10 s work best (the model was trained with ~3 s); "
                    "a long prompt slows every step down. Trim it together with its transcript",
                    prompt.path, prompt.original_seconds)


def load_prompt_audio(path, max_seconds: float = 0.0) -> PromptAudio:
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
