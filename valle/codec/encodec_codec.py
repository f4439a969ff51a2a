"""The ``encodec`` backend: Encodec 24 kHz at 6 kbps, 8 codebooks of 1024 at 75 frames per second.

The codec VALL-E and VALL-E X were trained on, and the default. ``--codec encodec`` uses the
published weights (torch hub cache, else a download that fails fast offline), ``encodec:PATH`` a
local state dict, ``encodec:random`` seeded untrained weights (tests and plumbing runs only; the
codes are not speech tokens and every output says so). Loading is encodec_model's.
"""
from __future__ import annotations

from typing import Optional

import torch

from valle.codec import encodec_model
from valle.codec.base import Codec


class EncodecCodec(Codec):
    name = "encodec"
    sample_rate = encodec_model.SAMPLE_RATE
    frame_rate = encodec_model.SAMPLE_RATE / encodec_model.HOP_LENGTH
    num_quantizers = encodec_model.NUM_CODEBOOKS
    codebook_size = encodec_model.CODEBOOK_SIZE
    min_input_rate = 0

    def __init__(self, weights: Optional[str] = None, device="cpu", model=None) -> None:
        """``weights``: None (published), ``"random"`` or a state-dict path; ``model``: an
        already loaded Encodec model to wrap (its ``valle_codec_weights`` says which weights)."""
        self.model = model if model is not None else encodec_model.load_encodec_model(weights, device)
        label = str(getattr(self.model, "valle_codec_weights", encodec_model.weights_label(weights)))
        self.weights = None if label.startswith("pretrained:") else label

    @property
    def spec(self) -> str:
        return self.name if self.weights is None else f"{self.name}:{self.weights}"

    @property
    def is_random(self) -> bool:
        return self.weights == encodec_model.RANDOM

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode_input(self, wav: torch.Tensor) -> torch.Tensor:
        return encodec_model.encode_audio(self.model, wav[None], self.sample_rate)

    cpu_encoders = ("fast", "encodec")
    gpu = True

    def group_encoder(self, kind: str = "fast"):
        """``fast``: encodec_cpu's grouped encoder (codes equal encodec's up to float ties);
        ``encodec``: encodec's own ``model.encode`` per cut (the package's codes, bit for bit)."""
        if kind == "fast":
            from valle.codec.encodec_cpu import CpuEncoder

            return CpuEncoder(self.model)
        return super().group_encoder(kind)

    def batch_encoder(self):
        from valle.codec.encodec_batch import encode_batch

        return lambda wavs: encode_batch(self.model, wavs)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return encodec_model.decode_codes(self.model, self.check_codes(codes))
