"""``--dtype auto``: the compute dtype chosen from the hardware and a short measurement.

On CUDA: bfloat16 where the GPU supports it, float32 otherwise. On CPU: bfloat16 only when the CPU
has native bf16 instructions (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo, or torch's dispatch level
reporting AMX) *and* a bf16-autocast matrix product measures faster than fp32 here; float32
otherwise. An explicit ``--dtype bfloat16`` on a CPU without native bf16 is kept but warned about,
with the slowdown measured on the spot (on AVX2-only CPUs it was 19x for a training step).
"""
from __future__ import annotations

import logging
import time
from functools import lru_cache
from pathlib import Path
from typing import Dict, List

import torch

log = logging.getLogger(__name__)

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
DTYPE_CHOICES = ["auto", "float32", "bfloat16", "float16"]


@lru_cache(maxsize=1)
def cpu_info() -> Dict[str, object]:
    """CPU model name, the SIMD flags that matter for speed, and torch's dispatch level."""
    model, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    simd: List[str] = sorted(f for f in flags if f.startswith(("avx", "amx", "fma")) or f == "f16c")
    capability = torch.backends.cpu.get_cpu_capability()
    native = any(f in flags for f in NATIVE_BF16_FLAGS) or "AMX" in capability.upper()
    return {"model": model, "simd_flags": simd, "torch_capability": capability, "native_bf16": native}


def measure_bf16_speedup(n: int = 256, seconds: float = 0.05) -> float:
    """fp32 time / bf16-autocast time of an [n, n] x [n, n] product on the CPU (> 1: bf16 faster)."""
    a, b = torch.randn(n, n), torch.randn(n, n)

    def rate(bf16: bool) -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            a @ b
            reps, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds or reps < 3:
                a @ b
                reps += 1
        return reps / (time.perf_counter() - t0)

    fp32 = max(rate(False), rate(False))
    bf16 = max(rate(True), rate(True))
    return bf16 / fp32


def resolve_dtype(requested: str, device: torch.device) -> str:
    """``requested`` (one of DTYPE_CHOICES) -> the dtype name to compute in on ``device``; logs why."""
    if requested not in DTYPE_CHOICES:
        raise ValueError(f"--dtype must be one of {', '.join(DTYPE_CHOICES)}, got {requested!r}")
    if device.type == "cuda":
        if requested != "auto":
            return requested
        chosen = "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
        log.info("--dtype auto: %s on %s", chosen, torch.cuda.get_device_name(device))
        return chosen
    if device.type != "cpu":
        return "float32" if requested == "auto" else requested
    info = cpu_info()
    if requested == "bfloat16" and not info["native_bf16"]:
        speedup = measure_bf16_speedup()
        log.warning("--dtype bfloat16 on a CPU without native bf16 (%s, %s; no %s): a bf16 matrix product "
                    "measured %.1fx %s than fp32 here; --dtype auto (or float32) avoids it", info["model"],
                    info["torch_capability"], " / ".join(NATIVE_BF16_FLAGS),
                    1 / speedup if speedup < 1 else speedup, "slower" if speedup < 1 else "faster")
        return requested
    if requested != "auto":
        return requested
    if not info["native_bf16"]:
        log.info("--dtype auto: float32 (CPU %s, %s: no native bf16)", info["model"], info["torch_capability"])
        return "float32"
    speedup = measure_bf16_speedup()
    chosen = "bfloat16" if speedup > 1.05 else "float32"
    log.info("--dtype auto: %s (CPU %s with native bf16; bf16 matmul measured %.2fx fp32)",
             chosen, info["model"], speedup)
    return chosen
