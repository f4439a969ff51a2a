"""The AR's single-token step on the CPU as one compiled kernel (numba): step mode "kernel".

At d256 a step's arithmetic is ~7 MFLOP, but torch runs it as ~390 operator calls whose fixed costs
(dispatch, MKL's single-row products at 2-3x the time of reading their weights) make it 2-3 ms. Here
the whole step (embedding, every layer's norms, products, KV-cache write and attention, the final
norm and the output layer) is one call of a numba-compiled function over the model's own fp32
weights (zero-copy numpy views, read in their [out, in] layout: one dot product per output, so
nothing is transposed or copied per call), so a step costs about one read of its weights.

Sums run in a different order than MKL's, so logits differ by float rounding (~1e-6 relative);
greedy codes equal the module path's on the published VALL-E X case and the batched cases
(tests/models/test_models_fused_step.py). The cache, masks and batch selection are
``FusedARStep``'s. Needs numba (a dependency of librosa, listed in setup.py); without it, or for
any model the kernel does not cover (``kernel_step_supported``), "auto" uses the torch fused step.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import torch
from torch import Tensor, nn

from .fused_step import FusedARStep, fused_step_supported


def _numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


def kernel_step_supported(model, device: torch.device) -> bool:
    """The kernel covers a pre-norm AR in eval mode, fp32 on the CPU outside autocast (``--dtype
    bfloat16`` computes in bf16: the torch step), with plain ``nn.Linear`` maps (a model quantized
    with ``valle.models.quantize`` keeps the torch step)."""
    if not _numba_available() or device.type != "cpu" or not fused_step_supported(model):
        return False
    if torch.is_autocast_enabled(device.type):
        return False
    dec = model.ar_decoder
    plain = all(
        type(layer.linear1) is nn.Linear and type(layer.linear2) is nn.Linear
        and type(layer.self_attn.out_proj) is nn.Linear and layer.self_attn.qkv_proj is None
        and type(layer.norm1) is nn.LayerNorm and type(layer.norm2) is nn.LayerNorm
        and all(m.bias is not None for m in (layer.linear1, layer.linear2, layer.self_attn.out_proj))
        for layer in dec.layers)
    return (plain and type(model.ar_predict_layer) is nn.Linear and type(dec.norm) is nn.LayerNorm
            and all(p.dtype == torch.float32 for p in model.parameters()))


def _has_hooks(module: nn.Module) -> bool:
    g = nn.modules.module
    return bool(module._forward_hooks or module._forward_pre_hooks
                or g._global_forward_hooks or g._global_forward_pre_hooks)


def greedy_choice(logits: Tensor):
    """Greedy tokens [B] (a tensor) and their log-probabilities (a list) for float32 CPU logits [B, V]."""
    from .step_kernels import greedy

    ids, logprob = greedy(_np(logits))
    return torch.from_numpy(ids), logprob.tolist()


def _np(t: Tensor) -> np.ndarray:
    """A numpy view of a CPU tensor (no torch operation when it is contiguous and needs no gradient)."""
    if t.requires_grad or not t.is_contiguous():
        t = t.detach().contiguous()
    return t.numpy()


class KernelARStep(FusedARStep):
    """``FusedARStep`` (same cache, masks, ``select``) whose ``step`` is the numba kernel."""

    transpose_weights = False  # the kernel reads [out, in]

    def __init__(self, model, prefill, key_valid: Tensor, capacity: int):
        from . import step_kernels

        self.kernels = step_kernels
        super().__init__(model, prefill, key_valid, capacity)
        dec = model.ar_decoder
        # per layer, after (x, t, n_heads, kv, key_ok): layer_step's weights, zero-copy views
        self.layer_args = [
            (_np(layer.norm1.weight), _np(layer.norm1.bias), np.float32(layer.norm1.eps),
             _np(layer.self_attn.in_proj_weight), _np(layer.self_attn.in_proj_bias),
             _np(layer.self_attn.out_proj.weight), _np(layer.self_attn.out_proj.bias),
             _np(layer.norm2.weight), _np(layer.norm2.bias), np.float32(layer.norm2.eps),
             _np(layer.linear1.weight), _np(layer.linear1.bias), _np(layer.linear2.weight), _np(layer.linear2.bias))
            for layer in dec.layers]
        self.norm_args = (_np(dec.norm.weight), _np(dec.norm.bias), np.float32(dec.norm.eps))
        self.emb_np = _np(self.embedding)
        self.pe_np = _np(self.pe)
        self.head_hooked = _has_hooks(self.head)
        self.head_w = np.empty((0, self.D), np.float32) if self.head_hooked else _np(self.head.weight)
        self.n_out = self.head.weight.shape[0]

    def _views(self) -> None:
        super()._views()
        self.kv_layers = list(self.kv.detach().numpy())  # [2, B, H, capacity, Dh] per layer
        self.key_ok = None  # rebuilt from the (possibly selected) pad mask on the next step

    def step(self, tokens: Tensor, positions: Tensor) -> Tensor:
        t = self.length
        if t >= self.kv.shape[4]:
            raise RuntimeError(f"KV cache capacity {self.kv.shape[4]} exceeded")
        if self.key_ok is None:
            self.key_ok = (self.pad_mask.view(self.B, -1) == 0).numpy()  # [B, capacity] bool
        k = self.kernels
        x = k.embed(_np(tokens), _np(positions), self.emb_np, self.pe_np)
        for kv, args in zip(self.kv_layers, self.layer_args):
            k.layer_step(x, t, self.H, kv, self.key_ok, *args)
        logits = np.empty((self.B, 0 if self.head_hooked else self.n_out), np.float32)
        h = k.output(x, *self.norm_args, self.head_w, logits)
        self.length = t + 1
        if self.head_hooked:
            return self.head(torch.from_numpy(h))
        return torch.from_numpy(logits)
