"""What every codec backend offers: its facts, audio in at any rate, codes out, and back.

A codec turns speech into a matrix of discrete codes ``[frames, num_quantizers]`` (each code in
``0 .. codebook_size - 1``) at ``frame_rate`` frames per second, and codes back into a mono
waveform at ``sample_rate``. VALL-E models those codes: the AR predicts codebook 0, the NAR the
others, so the model's vocabularies follow ``codebook_size`` and its stages ``num_quantizers``.

``facts()`` is what prepared data, model configs and checkpoints record about the codec that
made their codes; ``spec`` is the one ``--codec`` value that loads the same codec again, and
``identity`` what the codes depend on (for stage stamps: the spec plus a weights digest).
"""
from __future__ import annotations

from functools import cached_property
from typing import Dict, Union

import numpy as np
import torch


class CodecError(ValueError):
    """A codec cannot be loaded or does not fit the data; the message names the fix."""


_RESAMPLERS: Dict[tuple, object] = {}


def to_mono(wav: Union[torch.Tensor, np.ndarray], sample_rate: int, target_rate: int) -> torch.Tensor:
    """``[samples]`` or ``[channels, samples]`` audio as mono float32 ``[1, samples]`` at ``target_rate``.

    The mean over channels, then ``torchaudio.transforms.Resample`` (cached per rate pair): the
    same order and resampler as ``encodec.utils.convert_audio``, so Encodec's codes match the
    package's own preprocessing.
    """
    import torchaudio

    wav = torch.as_tensor(wav)
    if wav.dim() == 1:
        wav = wav.unsqueeze(0)
    wav = wav.to(torch.float32).mean(dim=0, keepdim=True)
    if sample_rate != target_rate:
        key = (int(sample_rate), int(target_rate))
        if key not in _RESAMPLERS:
            _RESAMPLERS[key] = torchaudio.transforms.Resample(*key)
        with torch.inference_mode():
            wav = _RESAMPLERS[key](wav)
    return wav


class Codec:
    """The interface of a codec backend (see the module docstring). Subclasses set the facts."""

    name: str = ""
    sample_rate: int = 0
    frame_rate: float = 0.0
    num_quantizers: int = 0
    codebook_size: int = 0
    min_input_rate: int = 0  # audio below this rate is refused (it lacks the codec's band)
    # left context (frames) of each streamed decode window; 0 = the whole sentence so far
    stream_context_frames: int = 50

    @property
    def spec(self) -> str:
        """The ``--codec`` value that loads this codec again."""
        return self.name

    @cached_property
    def identity(self) -> str:
        """What codes depend on, for stage stamps (a weights digest where there are weights).
        Computed on first use and kept: hashing Encodec's weights file takes a while."""
        from valle.codec import codec_identity

        return codec_identity(self.spec)

    @property
    def is_random(self) -> bool:
        """True when the codes are from untrained weights (NOT speech tokens)."""
        return False

    @property
    def frame_shift(self) -> float:
        return 1.0 / self.frame_rate

    def facts(self) -> Dict[str, object]:
        """What outputs record about the codec that made (or reads) their codes."""
        from valle.codec import facts_of

        return {**facts_of(self.spec), "random_weights": self.is_random}

    def check_input_rate(self, sample_rate: int, what: str = "audio") -> None:
        if sample_rate < self.min_input_rate:
            raise CodecError(
                f"{what} is sampled at {sample_rate} Hz, below the {self.min_input_rate} Hz that --codec "
                f"{self.name} needs (upsampling cannot add the missing band): use recordings at "
                f">= {self.min_input_rate} Hz, or leave them out of the corpus"
            )

    def to_input(self, wav: Union[torch.Tensor, np.ndarray], sample_rate: int) -> torch.Tensor:
        """Mono ``[1, samples]`` at the codec's rate (checks the input rate first)."""
        self.check_input_rate(sample_rate)
        return to_mono(wav, sample_rate, self.sample_rate)

    def encode(self, wav: Union[torch.Tensor, np.ndarray], sample_rate: int) -> torch.Tensor:
        """Codes ``LongTensor[frames, num_quantizers]`` of ``wav`` (``[samples]`` or ``[channels, samples]``)."""
        return self.encode_input(self.to_input(wav, sample_rate)[0])

    def encode_input(self, wav: torch.Tensor) -> torch.Tensor:
        """Codes of mono ``wav`` ``[samples]`` already at ``sample_rate``."""
        raise NotImplementedError

    # Stage 3 ------------------------------------------------------------------------------
    cpu_encoders = ("fast",)  # --cpu-encoder choices this codec offers
    gpu = False  # has a batched GPU path (batch_encoder)

    def group_encoder(self, kind: str = "fast") -> "GroupEncoder":
        """What stage 3's CPU workers call: codes of a group of mono wavs at ``sample_rate``."""
        if kind not in self.cpu_encoders:
            raise CodecError(f"--cpu-encoder {kind} does not apply to --codec {self.name} (it offers: "
                             f"{', '.join(self.cpu_encoders)}); drop --cpu-encoder")
        return GroupEncoder(self.encode_input)

    def batch_encoder(self):
        """A function ``wavs -> codes`` that encodes padded batches on the codec's device."""
        raise CodecError(f"--codec {self.name} encodes on the CPU only: use --device cpu --nj N")

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Mono float waveform ``[samples]`` at ``sample_rate`` of codes ``[frames, num_quantizers]``."""
        raise NotImplementedError

    def check_codes(self, codes: torch.Tensor) -> torch.Tensor:
        codes = torch.as_tensor(codes)
        if codes.dim() != 2 or codes.shape[1] != self.num_quantizers:
            raise ValueError(f"{self.name} decodes codes of shape [frames, {self.num_quantizers}], "
                             f"got {tuple(codes.shape)}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise ValueError(f"{self.name} codes must be in 0..{self.codebook_size - 1}, got "
                             f"{int(codes.min())}..{int(codes.max())}")
        return codes.long()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.spec}: {self.sample_rate} Hz, {self.frame_rate:g} frames/s, "
                f"{self.num_quantizers} x {self.codebook_size})")


class GroupEncoder:
    """Encodes a group of wavs one at a time with ``encode`` (``wav -> codes``)."""

    def __init__(self, encode) -> None:
        self.encode = encode

    @torch.inference_mode()
    def encode_group(self, wavs):
        return [self.encode(wav) for wav in wavs]
