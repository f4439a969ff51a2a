"""One AR decoding step for a single new token per item, written as few large operations.

``ar_decode`` runs the prompt (prefill) through the ordinary modules and then, for every new
frame, ``FusedARStep.step``: per layer one LayerNorm, one packed QKV product, one copy of the new
key and value into a preallocated cache ([layers, 2, B, H, capacity, Dh], written in place, never
concatenated or regrown), SDPA over the cached prefix, the output and FFN products: no module
calls, no per-step mask or position tensors, no Python work beyond the loop over layers. Weights
are used as they are (``F.linear``, the same kernels as the modules) unless a layer was replaced
by a quantized module (``valle.models.quantize``), which is then called.
The output layer is always called as a module, so forward hooks on ``ar_predict_layer`` still apply.

The result equals the module path's up to float rounding (tests/models/test_models_fused_step.py
compares codes and logits on the published VALL-E X reference case and on batched cases).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from valle.utils.tensor_bytes import tensor_bytes

from .modules import KVCache


# Decoders whose weights take at most this many bytes get a transposed copy ([in, out], made once
# per ``ar_decode`` call): a single-row product reads that layout 20-30% faster on CPU (measured on
# AVX2, where the weights sit in the last-level cache). Larger models keep one copy of their weights.
TRANSPOSE_MAX_BYTES = 64 << 20


def _linear(weight: Tensor, bias: Optional[Tensor], transpose: bool):
    """A plain linear map as (weight or its transpose, bias, transposed?)."""
    if transpose:
        return weight.t().contiguous(), bias, True
    return weight, bias, False


def _module_linear(module: nn.Module, transpose: bool):
    """A plain ``nn.Linear`` as ``_linear``; any other module (quantized) is called as it is."""
    if type(module) is nn.Linear:
        return _linear(module.weight, module.bias, transpose)
    return module


def _apply(lin, x: Tensor) -> Tensor:
    if isinstance(lin, tuple):
        w, b, transposed = lin
        if not transposed:
            return F.linear(x, w, b)
        return torch.addmm(b, x, w) if b is not None else x @ w
    return lin(x)


def fused_step_supported(model) -> bool:
    """The fused step covers the pre-norm AR decoder in eval mode (every preset; post-norm models,
    and a model left in training mode, whose dropout the fused step would skip, use the modules)."""
    return bool(model.config.norm_first) and not model.ar_decoder.training


def preallocated_cache(model, batch: int, capacity: int, device) -> KVCache:
    """A ``KVCache`` whose layers write into views of one zeroed [layers, 2, B, H, capacity, Dh] block
    (``.block``), which ``FusedARStep`` then keeps as its cache: the prefill's keys and values are
    written once, where the steps read them, instead of being copied over after the prefill."""
    dec = model.ar_decoder
    att = dec.layers[0].self_attn
    H, D = att.nhead, att.in_proj_weight.shape[1]
    block = torch.zeros(len(dec.layers), 2, batch, H, capacity, D // H, device=device, dtype=att.in_proj_weight.dtype)
    cache = KVCache(len(dec.layers))
    cache.k, cache.v = list(block[:, 0].unbind(0)), list(block[:, 1].unbind(0))
    cache.block = block
    return cache


class FusedARStep:
    """Single-token AR steps over a preallocated KV cache filled from a prefill ``KVCache``."""

    transpose_weights = True  # small decoders: [in, out] copies for the single-row products

    def __init__(self, model, prefill: KVCache, key_valid: Tensor, capacity: int):
        dec = model.ar_decoder
        first = prefill.k[0]
        B, H, n, Dh = first.shape
        self.B, self.H, self.Dh, self.D = B, H, Dh, H * Dh
        self.length = prefill.length
        self.layers = []
        tr = self.transpose_weights and tensor_bytes(dec.parameters()) <= TRANSPOSE_MAX_BYTES
        for layer in dec.layers:
            att = layer.self_attn
            qkv = getattr(att, "qkv_proj", None)
            self.layers.append((
                layer.norm1.weight, layer.norm1.bias, layer.norm1.eps,
                qkv if qkv is not None else _linear(att.in_proj_weight, att.in_proj_bias, tr),
                _module_linear(att.out_proj, tr),
                layer.norm2.weight, layer.norm2.bias, layer.norm2.eps,
                _module_linear(layer.linear1, tr), _module_linear(layer.linear2, tr),
            ))
        self.final_norm = (dec.norm.weight, dec.norm.bias, dec.norm.eps)
        self.head = model.ar_predict_layer
        self.embedding = model.ar_audio_embedding.weight
        pos = model.ar_audio_position
        self.pe = pos.alpha * pos.table(capacity + 1, first.device)[: capacity + 1].to(first.dtype)  # alpha * PE, as its forward
        # zeros, not empty: the static step attends over all columns (masked), and garbage could be NaN
        # keys and values apart ([2, B, H, ...] per layer): each is [B * H, capacity, Dh] in memory, which
        # attention reads faster over a batch than keys and values interleaved per item
        block = getattr(prefill, "block", None)  # preallocated_cache: the prefill wrote into it
        if block is not None and block.shape[2] == B and block.shape[4] == capacity and block.dtype == first.dtype:
            self.kv = block
        else:
            self.kv = first.new_zeros(len(dec.layers), 2, B, H, capacity, Dh)
            for i in range(len(dec.layers)):
                self.kv[i, 0, :, :, : self.length] = prefill.k[i][:, :, : self.length]
                self.kv[i, 1, :, :, : self.length] = prefill.v[i][:, :, : self.length]
        self._views()
        # additive key mask [B, 1, 1, capacity]: -inf on padded prefix keys; None when nothing is padded
        self.mask: Optional[Tensor] = None
        self.pad_mask = torch.zeros(B, 1, 1, capacity, dtype=first.dtype, device=first.device)
        self.pad_mask[:, 0, 0, : key_valid.shape[1]].masked_fill_(~key_valid, float("-inf"))
        if not bool(key_valid.all()):
            self.mask = self.pad_mask
        self.columns = torch.arange(capacity, device=first.device)

    def _views(self) -> None:
        """Per layer: the whole cache [2, B, H, capacity, Dh] and its keys and values, made once."""
        self.per_layer = [(kv, kv[0], kv[1]) for kv in self.kv.unbind(0)]

    def select(self, index: Tensor) -> None:
        """Keep only batch rows ``index`` (the items still decoding)."""
        self.kv = self.kv.index_select(2, index)
        self._views()
        self.pad_mask = self.pad_mask.index_select(0, index)
        if self.mask is not None:
            self.mask = self.pad_mask
        self.B = int(index.numel())

    def step(self, tokens: Tensor, positions: Tensor) -> Tensor:
        """tokens [B] (the last chosen ids), positions [B] (their audio positions) -> logits [B, V]."""
        B, H, Dh, D = self.B, self.H, self.Dh, self.D
        t = self.length
        if t >= self.kv.shape[4]:
            raise RuntimeError(f"KV cache capacity {self.kv.shape[4]} exceeded")
        x = self.embedding.index_select(0, tokens) + self.pe.index_select(0, positions)
        mask = None if self.mask is None else self.mask[..., : t + 1]
        for (n1w, n1b, e1, qkv_lin, out_lin, n2w, n2b, e2, ff1, ff2), (kv, k, v) in zip(self.layers, self.per_layer):
            h = F.layer_norm(x, (D,), n1w, n1b, e1)
            qkv = _apply(qkv_lin, h).view(B, 3, H, Dh)
            kv.select(3, t).copy_(qkv[:, 1:].transpose(0, 1))
            q = qkv[:, 0].unsqueeze(2)  # [B, H, 1, Dh]
            att = F.scaled_dot_product_attention(q, k.narrow(2, 0, t + 1), v.narrow(2, 0, t + 1), attn_mask=mask)
            x = x + _apply(out_lin, att.view(B, D))
            h = F.layer_norm(x, (D,), n2w, n2b, e2)
            x = x + _apply(ff2, _apply(ff1, h).relu_())
        self.length = t + 1
        return self._output(x)

    def _output(self, x: Tensor) -> Tensor:
        x = F.layer_norm(x, (self.D,), *self.final_norm[:2], self.final_norm[2])
        return self.head(x)

    def step_static(self, tokens: Tensor, positions: Tensor, t: Tensor) -> Tensor:
        """``step`` with shapes that never change (for CUDA graphs): the new column ``t`` (a [1]
        long tensor on the device, not a Python int) is written with ``index_copy_`` and attention
        runs over the whole capacity with the columns after ``t`` masked. Leaves ``length`` alone."""
        B, H, Dh, D = self.B, self.H, self.Dh, self.D
        x = self.embedding.index_select(0, tokens) + self.pe.index_select(0, positions)
        mask = self.pad_mask.masked_fill(self.columns > t, float("-inf"))
        for (n1w, n1b, e1, qkv_lin, out_lin, n2w, n2b, e2, ff1, ff2), (kv, k, v) in zip(self.layers, self.per_layer):
            h = F.layer_norm(x, (D,), n1w, n1b, e1)
            qkv = _apply(qkv_lin, h).view(B, 3, H, Dh)
            kv.index_copy_(3, t, qkv[:, 1:].transpose(0, 1).unsqueeze(3))
            att = F.scaled_dot_product_attention(qkv[:, 0].unsqueeze(2), k, v, attn_mask=mask)
            x = x + _apply(out_lin, att.view(B, D))
            h = F.layer_norm(x, (D,), n2w, n2b, e2)
            x = x + _apply(ff2, _apply(ff1, h).relu_())
        return self._output(x)


class StaticStep:
    """``FusedARStep`` driven through ``step_static`` (same interface as ``step``)."""

    def __init__(self, stepper: FusedARStep):
        self.inner = stepper

    def select(self, index: Tensor) -> None:
        self.inner.select(index)

    def step(self, tokens: Tensor, positions: Tensor) -> Tensor:
        s = self.inner
        t = torch.tensor([s.length], device=tokens.device)
        s.length += 1
        return s.step_static(tokens, positions, t)


class CUDAGraphStep(StaticStep):
    """``step_static`` captured once as a CUDA graph and replayed for every frame (recaptured when
    the batch shrinks): one launch per frame instead of ~15 per layer."""

    def __init__(self, stepper: FusedARStep):
        super().__init__(stepper)
        self.graph = None

    def select(self, index: Tensor) -> None:
        super().select(index)
        self.graph = None

    def _capture(self, tokens: Tensor, positions: Tensor) -> None:
        s = self.inner
        self.tokens, self.positions = tokens.clone(), positions.clone()
        self.t = torch.tensor([s.length], device=tokens.device)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside the graph (allocations, kernel selection)
            s.step_static(self.tokens, self.positions, self.t)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.out = s.step_static(self.tokens, self.positions, self.t)

    def step(self, tokens: Tensor, positions: Tensor) -> Tensor:
        s = self.inner
        if self.graph is None:
            self._capture(tokens, positions)
        self.tokens.copy_(tokens)
        self.positions.copy_(positions)
        self.t.fill_(s.length)
        self.graph.replay()
        s.length += 1
        return self.out.clone()

