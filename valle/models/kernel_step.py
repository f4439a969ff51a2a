"""The AR's single-token step on the CPU as one compiled kernel (numba): step mode "kernel".

At d256 a step's arithmetic is ~7 MFLOP, but torch runs it as ~390 operator calls whose fixed costs
(dispatch, MKL's single-row products at 2-3x the time of reading their weights) make it 2-3 ms. Here
the whole step (embedding, every layer's norms, products, KV-cache write and attention, the final
norm and the output layer) is one call of a numba-compiled function over the model's own fp32
weights (zero-copy numpy views, read in their [out, in] layout: one dot product per output, so
nothing is transposed or copied per call), so a step costs about one read of its weights.

Sums run in a different order than MKL's, so logits differ by float rounding (~1e-6 relative);
greedy codes equal the module path's on the published VALL-E X case and the batched cases
(tests/models/test_models_fused_step.py). The cache and masks are ``FusedARStep``'s; an item that
finishes only leaves the kernel's list of batch rows (``KernelARStep.select``). Needs numba (a dependency
of librosa, listed in setup.py); without it, or for any model the kernel does not cover
(``kernel_step_supported``), "auto" uses the torch fused step.

int8 (``--quantize int8``, valle/models/quantize.py): the kernel reads the quantized maps' int8 weights
and per-row scales and keeps activations and sums in fp32, so its step is the fp32 step of the model whose
weights are the dequantized int8 ones, up to float rounding (tests/models/test_models_kernel_int8.py), on a
quarter of the weight bytes; torch's own int8 step also quantizes each step's activations to int8.
"""
from __future__ import annotations

import importlib.util
import weakref

import numpy as np
import torch
from torch import Tensor, nn

from .fused_step import FusedARStep, fused_step_supported

QuantizedLinear = torch.ao.nn.quantized.dynamic.Linear


def _numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


# module -> its unpacked (int8 weights, row scales, bias), or None: unpacking fbgemm's packed weights (which
# ``weight()`` and ``bias()`` each do) takes ~1 s at paper size, so it is done once per quantized model, not per
# ``ar_decode``; this keeps a second copy of the AR's int8 weights (152 MB at paper size)
_UNPACKED: "weakref.WeakKeyDictionary[nn.Module, object]" = weakref.WeakKeyDictionary()


def _int8_weights(module: nn.Module):
    """(int8 weights [out, in], fp32 scale per output row, bias or None) of a dynamic-quantized linear
    map (``valle.models.quantize``) whose zero points are 0, else None."""
    if type(module) is not QuantizedLinear:
        return None
    if module not in _UNPACKED:
        _UNPACKED[module] = _unpack(module)
    return _UNPACKED[module]


def unpack_int8_weights(model: nn.Module) -> int:
    """Unpack the int8 weights of the AR's dynamic-quantized linear maps for the kernel now (``quantize_for_synthesis``
    calls it, so the first synthesis does not pay ~1 s at paper size), where the kernel can run the model's AR
    (numba present, a pre-norm AR: a second copy of its int8 weights, 152 MB at paper size, is kept for it);
    returns how many maps were unpacked."""
    if not _numba_available() or not fused_step_supported(model):
        return 0
    parts = (model.ar_decoder, model.ar_predict_layer)
    return sum(_int8_weights(m) is not None for part in parts for m in part.modules() if type(m) is QuantizedLinear)


def _unpack(module: nn.Module):
    w, bias = module.weight(), module.bias()
    if w.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        if w.q_zero_point() != 0:
            return None
        scale = torch.full((w.shape[0],), w.q_scale(), dtype=torch.float32)
    elif w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        if w.q_per_channel_axis() != 0 or bool(w.q_per_channel_zero_points().any()):
            return None
        scale = w.q_per_channel_scales().to(torch.float32)
    else:
        return None
    return w.int_repr().contiguous(), scale, bias


def _product(module: nn.Module, need_bias: bool = True):
    """A linear map as the kernel's (weights, scale, bias) numpy arrays (scale empty for fp32 weights,
    bias empty when there is none), or None when the kernel cannot run it."""
    if type(module) is nn.Linear:
        w, scale, bias = module.weight, None, module.bias
    else:
        int8 = _int8_weights(module)
        if int8 is None:
            return None
        w, scale, bias = int8
    if need_bias and bias is None:
        return None
    none = np.empty(0, np.float32)
    return (_np(w), none if scale is None else _np(scale), none if bias is None else _np(bias))


def _qkv_product(attention: nn.Module):
    """The packed q, k, v map: the fp32 parameters, or their int8 copy ``qkv_proj``."""
    if attention.qkv_proj is None:
        return (_np(attention.in_proj_weight), np.empty(0, np.float32), _np(attention.in_proj_bias))
    return _product(attention.qkv_proj)


def kernel_step_supported(model, device: torch.device) -> bool:
    """The kernel covers a pre-norm AR in eval mode, fp32 on the CPU outside autocast (``--dtype
    bfloat16`` computes in bf16: the torch step), whose linear maps are plain ``nn.Linear`` or int8
    ones from ``valle.models.quantize`` (zero points 0)."""
    if not _numba_available() or device.type != "cpu" or not fused_step_supported(model):
        return False
    if torch.is_autocast_enabled(device.type):
        return False
    dec = model.ar_decoder
    covered = all(
        type(layer.norm1) is nn.LayerNorm and type(layer.norm2) is nn.LayerNorm
        and all(_product(m) is not None for m in (layer.linear1, layer.linear2, layer.self_attn.out_proj))
        and _qkv_product(layer.self_attn) is not None
        for layer in dec.layers)
    return (covered and _product(model.ar_predict_layer, need_bias=False) is not None
            and type(dec.norm) is nn.LayerNorm and all(p.dtype == torch.float32 for p in model.parameters()))


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
    """``FusedARStep`` (same cache and masks) whose ``step`` is the numba kernel. ``select`` copies nothing:
    the kernel reads each item's keys and values in its original batch row (``rows``), so an item finishing
    does not copy the others' caches (at paper size 8 items' ~330 MB, ~80 ms per finished item). After a
    ``select`` the inherited torch views (``kv``, ``pad_mask``, ``mask``) still hold every batch row: only
    this class's ``step`` reads the cache, so the torch step of ``FusedARStep`` is closed to it."""

    transpose_weights = False  # the kernel reads [out, in]

    def __init__(self, model, prefill, key_valid: Tensor, capacity: int):
        from . import step_kernels

        self.kernels = step_kernels
        super().__init__(model, prefill, key_valid, capacity)
        dec = model.ar_decoder
        # per layer, after (x, t, n_heads, kv, key_ok, rows, tiles): layer_step's weights (zero-copy views of fp32
        # parameters; int8 maps: their int8 weights and row scales, unpacked once per model: _UNPACKED)
        self.layer_args = [
            (_np(layer.norm1.weight), _np(layer.norm1.bias), np.float32(layer.norm1.eps),
             *_qkv_product(layer.self_attn), *_product(layer.self_attn.out_proj),
             _np(layer.norm2.weight), _np(layer.norm2.bias), np.float32(layer.norm2.eps),
             *_product(layer.linear1), *_product(layer.linear2))
            for layer in dec.layers]
        self.norm_args = (_np(dec.norm.weight), _np(dec.norm.bias), np.float32(dec.norm.eps))
        self.emb_np = _np(self.embedding)
        self.pe_np = _np(self.pe)
        self.head_hooked = _has_hooks(self.head)
        none = np.empty(0, np.float32)
        self.head_args = ((np.empty((0, self.D), np.float32), none, none) if self.head_hooked
                          else _product(self.head, need_bias=False))
        self.n_out = self.head.out_features
        weight_bytes = sum(a.nbytes for args in (*self.layer_args, self.head_args) for a in args
                           if isinstance(a, np.ndarray))
        self.tiles = weight_bytes >= step_kernels.TILE_MIN_STEP_BYTES  # weights streamed from memory every step
        self.rows = np.arange(self.B, dtype=np.int64)  # the cache's batch row of each item still decoding
        self.key_ok = (self.pad_mask.view(self.B, -1) == 0).numpy()  # [batch, capacity] bool, in cache rows

    def select(self, index: Tensor) -> None:
        self.rows = self.rows[index.cpu().numpy()]
        self.B = len(self.rows)

    def step_static(self, *args):
        raise NotImplementedError("KernelARStep has no fixed-shape torch step (the static and cuda_graph "
                                  "step modes wrap FusedARStep)")

    def _views(self) -> None:
        super()._views()
        self.kv_layers = list(self.kv.detach().numpy())  # [2, batch, H, capacity, Dh] per layer

    def step(self, tokens: Tensor, positions: Tensor) -> Tensor:
        t = self.length
        if t >= self.kv.shape[4]:
            raise RuntimeError(f"KV cache capacity {self.kv.shape[4]} exceeded")
        k = self.kernels
        x = k.embed(_np(tokens), _np(positions), self.emb_np, self.pe_np)
        for kv, args in zip(self.kv_layers, self.layer_args):
            k.layer_step(x, t, self.H, kv, self.key_ok, self.rows, self.tiles, *args)
        logits = np.empty((self.B, 0 if self.head_hooked else self.n_out), np.float32)
        h = k.output(x, *self.norm_args, *self.head_args, logits, self.tiles)
        self.length = t + 1
        if self.head_hooked:
            return self.head(torch.from_numpy(h))
        return torch.from_numpy(logits)
