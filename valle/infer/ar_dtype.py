"""Which dtype the AR decodes in when ``--dtype auto`` chose bf16 on a CPU.

``--dtype auto`` picks bf16 on a CPU with native bf16 when a bf16 matrix product beats fp32
(``valle.utils.precision``). That holds for the NAR (one pass over every frame: large products) but
not always for the AR, which makes one frame per step. Measured on an AMD EPYC with AVX512-BF16
(docs/benchmarks.md, "`--dtype auto` per phase"): at the ``small`` size (13.7 MB of fp32 AR weights)
the fp32 CPU kernel step (``valle.models.kernel_step``, ~18 operations a step, weights read from cache)
ran 3.9x faster than a bf16 torch step; at paper size (609 MB, every step streams the weights from
memory) bf16 ran 1.5x faster, reading half the bytes. So the AR decodes in fp32 when the kernel step
covers it and its weights fit in the CPU's last-level cache, else in the chosen dtype; the NAR keeps
the chosen dtype. A rule, not a timing taken at start-up: a timing near its threshold would flip
between runs, and with it codebook 0 for the same seed.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import torch

from valle.models.kernel_step import kernel_step_supported
from valle.utils.tensor_bytes import tensor_bytes

log = logging.getLogger(__name__)

DEFAULT_LLC_BYTES = 32 << 20  # when /sys does not say (the EPYCs and Xeons measured here had 32 MiB)


def last_level_cache_bytes(cpu_dir: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> int:
    """Size of the highest-level data/unified cache of CPU 0, from sysfs."""
    best = (0, 0)
    for index in cpu_dir.glob("index*"):
        try:
            if (index / "type").read_text().strip() == "Instruction":
                continue
            level = int((index / "level").read_text())
            size = (index / "size").read_text().strip()
            units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
            value = int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
        except (OSError, ValueError):
            continue
        best = max(best, (level, value))
    return best[1] or DEFAULT_LLC_BYTES


def ar_step_weight_bytes(model) -> int:
    """Bytes of the weights one AR step reads: the decoder's layers and norm, and the output layer."""
    return tensor_bytes(list(model.ar_decoder.parameters()) + list(model.ar_predict_layer.parameters()))


def choose_ar_dtype(model, device: torch.device, dtype: str, cache_bytes: Optional[int] = None) -> str:
    """``float32`` when ``dtype`` is low-precision on a CPU, the fp32 kernel step covers ``model``'s AR and
    its step weights fit in the last-level cache (``cache_bytes``, default: this CPU's); else ``dtype``."""
    if dtype == "float32" or device.type != "cpu":
        return dtype
    was_training = model.training
    model.eval()  # the kernel step covers a model in eval mode, as synthesis runs it
    try:
        kernel = kernel_step_supported(model, device)
    finally:
        model.train(was_training)
    weights, cache = ar_step_weight_bytes(model), cache_bytes or last_level_cache_bytes()
    chosen = "float32" if kernel and weights <= cache else dtype
    log.info("--dtype auto: the AR decodes in %s (%s; its step reads %.1f MB of weights, the last-level cache "
             "holds %.1f MB); the NAR in %s", chosen, "fp32 kernel step" if kernel else "no fp32 kernel step",
             weights / 1e6, cache / 1e6, dtype)
    return chosen
