"""int8 weights for synthesis on CPU (``--quantize int8``): dynamic quantization of every linear map.

``torch.ao.quantization.quantize_dynamic`` replaces each ``nn.Linear`` (the decoders' output and
FFN maps, the AR and NAR output layers) by one with int8 weights and per-batch int8 activations
(fbgemm / oneDNN kernels, fast on AVX2); the packed QKV projection, a bare parameter, gets an int8
copy as ``self_attn.qkv_proj``. Weights read per AR frame drop 4x, which is what bounds a
paper-size model's decoding on CPU (docs/benchmarks.md). The AR's single-frame steps run in the
compiled CPU step (valle/models/kernel_step.py) on the same int8 weights with fp32 activations; the
prompt pass, the NAR and other devices' steps run torch's int8 modules. Codes are no longer bit-equal
to fp32: bench/decode.py reports the greedy-code agreement on the published VALL-E X reference case.
Inference only: the quantized model has no gradients and is not saved.
"""
from __future__ import annotations

import torch
from torch import nn

from .modules import SelfAttention

QUANTIZE_CHOICES = ["none", "int8"]


def quantize_for_synthesis(model: nn.Module, mode: str) -> nn.Module:
    """Return ``model`` with int8 linear maps (``mode`` "int8") or unchanged ("none"); CPU only."""
    if mode not in QUANTIZE_CHOICES:
        raise ValueError(f"--quantize must be one of {', '.join(QUANTIZE_CHOICES)}, got {mode!r}")
    if mode == "none":
        return model
    if any(p.device.type != "cpu" for p in model.parameters()):
        raise ValueError("--quantize int8 runs on the CPU only (dynamic int8 kernels); use --device cpu")
    model.eval()
    for m in model.modules():
        if isinstance(m, SelfAttention) and m.qkv_proj is None:
            lin = nn.Linear(m.in_proj_weight.shape[1], m.in_proj_weight.shape[0])
            with torch.no_grad():
                lin.weight.copy_(m.in_proj_weight)
                lin.bias.copy_(m.in_proj_bias)
            m.qkv_proj = lin
    model = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
    if hasattr(model, "ar_decoder"):
        from .kernel_step import unpack_int8_weights

        unpack_int8_weights(model)
    return model
