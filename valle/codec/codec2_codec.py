"""codec2 3200 (pycodec2): 8 kHz speech as 8 codebooks of 256 at 50 frames per second.

The only real speech codec here that needs no downloaded weights: offline runs, tests that hear
speech, the demo and bench/learn.py. Its speech is robotic 8 kHz vocoder speech; real voices
need Encodec (docs/codec.md).

Each 20 ms frame (160 samples) becomes 8 bytes, re-packed coarse-to-fine into codes (see
codec2_frame). codec2 keeps state between frames (pitch tracking, LSP interpolation), so every
``encode``/``decode`` call uses a fresh ``pycodec2.Codec2``: the codes of an utterance depend on
that utterance only, and ``decode(encode(x))`` equals pycodec2's own decode of its bytes. Its decoder's
random phases come from one library-wide state, which ``decode`` resets first (valle/codec/codec2_rand.py),
so the same codes decode to the same samples.
"""
from __future__ import annotations

import numpy as np
import torch

from valle.codec import codec2_rand
from valle.codec.base import Codec, CodecError
from valle.codec.codec2_frame import BYTES_PER_FRAME, repack, unpack

MODE = 3200
SAMPLES_PER_FRAME = 160


def load_pycodec2(mode: int = MODE):
    """A fresh ``pycodec2.Codec2(mode)`` (codec2 keeps state between frames: one per utterance)."""
    try:
        import pycodec2
    except ImportError as e:
        raise CodecError(f"--codec codec2 needs the pycodec2 package ({e}); pip install pycodec2==4.1.1") from None
    return pycodec2.Codec2(mode)


def encode_bytes(samples: np.ndarray, mode: int = MODE, samples_per_frame: int = SAMPLES_PER_FRAME) -> bytes:
    """codec2 bytes (3200 unless ``mode`` says) of int16 8 kHz ``samples``, zero-padded to whole frames."""
    samples = np.asarray(samples, dtype=np.int16)
    frames = -(-len(samples) // samples_per_frame)
    padded = np.zeros(frames * samples_per_frame, dtype=np.int16)
    padded[:len(samples)] = samples
    c2 = load_pycodec2(mode)
    # pycodec2's encode codes one frame per call (extra samples are ignored), so go frame by frame
    return b"".join(c2.encode(padded[i:i + samples_per_frame]) for i in range(0, len(padded), samples_per_frame))


def decode_bytes(data: bytes, mode: int = MODE, bytes_per_frame: int = BYTES_PER_FRAME) -> np.ndarray:
    """int16 8 kHz samples of codec2 bytes (one frame per call, as pycodec2 decodes one); the same bytes give
    the same samples whatever was decoded before (``codec2_rand``)."""
    with codec2_rand.locked():
        c2 = load_pycodec2(mode)
        pieces = [c2.decode(data[i:i + bytes_per_frame]) for i in range(0, len(data), bytes_per_frame)]
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)


class Codec2Codec(Codec):
    """codec2 3200; a subclass for another mode sets the mode's facts, frame sizes and code layout."""

    name = "codec2"
    sample_rate = 8000
    frame_rate = 50.0
    num_quantizers = 8
    codebook_size = 256
    min_input_rate = 8000
    # streamed windows decode the whole sentence so far: cheap here (~5 ms per second of audio), and a window
    # that began mid-sentence would restart the decoder's state and random phases, so differ from one-shot
    stream_context_frames = 0
    mode = MODE
    code_layout = ""  # named in codec_identity when a mode's codes change meaning
    samples_per_frame = SAMPLES_PER_FRAME
    bytes_per_frame = BYTES_PER_FRAME
    frames_to_codes = staticmethod(repack)  # codec2 bytes -> codes [frames, num_quantizers]
    codes_to_frames = staticmethod(unpack)  # and back

    def __init__(self) -> None:
        load_pycodec2(self.mode)  # fail now, with the install hint, if pycodec2 is missing

    def encode_input(self, wav: torch.Tensor) -> torch.Tensor:
        samples = (wav.detach().cpu().numpy() * 32767.0).clip(-32768, 32767).round().astype(np.int16)
        return torch.from_numpy(self.frames_to_codes(encode_bytes(samples, self.mode, self.samples_per_frame)))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        codes = self.check_codes(codes)
        samples = decode_bytes(self.codes_to_frames(codes.cpu().numpy()), self.mode, self.bytes_per_frame)
        return torch.from_numpy(samples.astype(np.float32) / 32768.0)
