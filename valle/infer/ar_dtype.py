"""Which dtype the AR decodes in when ``--dtype auto`` chose bf16 on a CPU: measured on the loaded model.

``--dtype auto`` picks bf16 on a CPU with native bf16 when a bf16 matrix product beats fp32
(``valle.utils.precision``). That holds for the NAR (one pass over every frame: large products) but
not always for the AR, which makes one frame per step: at the ``small`` size its fp32 CPU kernel step
(``valle.models.kernel_step``, ~18 operations a step) ran 3.9x faster than a bf16 torch step on an
AMD EPYC with AVX512-BF16, while at paper size (370 M parameters, bound by reading the weights) bf16 ran
1.5x faster than fp32 (docs/benchmarks.md, "`--dtype auto` per phase"). So the AR's dtype is chosen by timing
a short greedy decode of this model both ways; the NAR keeps the chosen dtype.
"""
from __future__ import annotations

import logging

import torch

from valle.models.decoding import ar_decode
from valle.utils.precision import time_in_dtypes

log = logging.getLogger(__name__)

PROBE_TEXT, PROBE_PROMPT, PROBE_FRAMES = 16, 32, 8  # ids, prompt frames, frames made per timed decode
FP32_MARGIN = 1.1  # fp32 must be this much faster to leave the chosen dtype: near-equal timings do not flip codes


def choose_ar_dtype(model, device: torch.device, dtype: str) -> str:
    """``float32`` when it decodes ``PROBE_FRAMES`` frames of ``model`` at least ``FP32_MARGIN`` times faster
    than ``dtype`` here, else ``dtype``. Timed in eval mode (as synthesis runs); the model's mode is restored."""
    if dtype == "float32":
        return dtype
    c = model.config
    g = torch.Generator().manual_seed(0)
    text = torch.randint(0, c.text_vocab_size, (1, PROBE_TEXT), generator=g).to(device)
    langs = torch.zeros_like(text) if c.num_languages else None
    prompt = torch.randint(0, c.num_audio_tokens, (1, PROBE_PROMPT), generator=g).to(device)
    n = torch.tensor([PROBE_FRAMES])

    def run():
        with torch.inference_mode():
            ar_decode(model, text, torch.tensor([PROBE_TEXT]), langs, prompt, torch.tensor([PROBE_PROMPT]), n,
                      top_k=1, min_frames=n)

    was_training = model.training
    model.eval()
    try:
        seconds = time_in_dtypes(run, dtype, device)
    finally:
        model.train(was_training)
    chosen = "float32" if seconds["float32"] * FP32_MARGIN < seconds[dtype] else dtype
    log.info("--dtype auto: the AR decodes in %s (%d frames: %.1f ms in float32, %.1f ms in %s); the NAR in %s",
             chosen, PROBE_FRAMES, seconds["float32"] * 1e3, seconds[dtype] * 1e3, dtype, dtype)
    return chosen
