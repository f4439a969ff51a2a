"""Guided attention: a training loss that pulls the AR's attention from audio to text onto the diagonal.

Why: a model trained from scratch on a small corpus learns *which* sentence it is saying long before
it learns *where* in the text each frame is. Until the audio frames attend to the text in order, it
can only replay the sentences it has heard; a new sentence runs past its end without an
end-of-speech. Tachibana et al. (2018, "Efficiently trainable text-to-speech ... with guided
attention", DCTTS) penalise attention far from the diagonal, which in their measurements made
alignment appear within a few thousand steps instead of tens of thousands.

Here the AR is decoder-only ([text ; audio] in one sequence), so the loss looks at the text keys
only: for every audio query n of an item with N audio and T text positions, the attention logits
over its valid text keys are softmaxed on their own (mass that goes to audio keys is neither
rewarded nor punished) and weighted by ``W[n, t] = 1 - exp(-(n/N - t/T)^2 / (2 sigma^2))``. The loss
is the mean of ``sum_t A[n, t] W[n, t]`` over queries, heads and layers. With same-speaker prompt
pairs (``--concat-prompt``) text and audio are both [prompt ; target], so the diagonal runs
through the pair.

The logits are recomputed from each layer's input with the layer's own projections (forward
pre-hooks), so the attention kernel stays the fused one. Off by default: the published recipe
has no such loss.
"""
from __future__ import annotations

import math
from typing import List

import torch
import torch.nn.functional as F
from torch import Tensor


def diagonal_weights(query_lens: Tensor, key_lens: Tensor, num_queries: int, num_keys: int,
                     sigma: float) -> Tensor:
    """``W [B, N, T]``: 0 on each item's diagonal, near 1 far from it (positions past an item's lengths: 0)."""
    n = torch.arange(num_queries, device=query_lens.device, dtype=torch.float32)[None, :, None]
    t = torch.arange(num_keys, device=query_lens.device, dtype=torch.float32)[None, None, :]
    qn = query_lens.float().clamp(min=1)[:, None, None]
    kn = key_lens.float().clamp(min=1)[:, None, None]
    w = 1.0 - torch.exp(-((n / qn - t / kn) ** 2) / (2.0 * sigma ** 2))
    valid = (n < qn) & (t < kn)
    return w * valid


class TextAttentionRecorder:
    """Records, for every layer of ``decoder``, the logits of queries ``[S:]`` over keys ``[:S]``."""

    def __init__(self, decoder, num_text: int):
        self.num_text = num_text
        self.logits: List[Tensor] = []
        self.handles = [layer.self_attn.register_forward_pre_hook(self._hook) for layer in decoder.layers]

    def _hook(self, module, inputs):
        x = inputs[0]
        S = self.num_text
        B, L, D = x.shape
        H = module.nhead
        w, b = module.in_proj_weight, module.in_proj_bias
        q = F.linear(x[:, S:], w[:D], b[:D]).view(B, L - S, H, D // H).transpose(1, 2)
        k = F.linear(x[:, :S], w[D: 2 * D], b[D: 2 * D]).view(B, S, H, D // H).transpose(1, 2)
        self.logits.append(q @ k.transpose(-1, -2) / math.sqrt(D // H))  # [B, H, N, S]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def loss(self, text_valid: Tensor, audio_valid: Tensor, sigma: float) -> Tensor:
        """Mean diagonal penalty over the recorded layers, heads and valid audio queries."""
        B, S = text_valid.shape
        N = audio_valid.shape[1]
        weights = diagonal_weights(audio_valid.sum(1), text_valid.sum(1), N, S, sigma)[:, None]  # [B, 1, N, S]
        key_mask = (~text_valid)[:, None, None, :]
        query_w = audio_valid[:, None, :].float()  # [B, 1, N]
        total = weights.new_zeros(())
        for logits in self.logits:
            attn = torch.softmax(logits.float().masked_fill(key_mask, float("-inf")), dim=-1)
            per_query = (attn * weights).sum(-1)  # [B, H, N]
            total = total + (per_query * query_w).sum() / (query_w.sum() * logits.shape[1]).clamp(min=1)
        return total / max(len(self.logits), 1)
