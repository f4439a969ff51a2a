"""Next-token choice for AR decoding: temperature, top-k, top-p (nucleus), greedy.

Kept apart from the model so the same rule serves best-of-N and tests; an optional
``torch.Generator`` makes sampling reproducible without touching the global RNG.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def filter_logits(logits: Tensor, top_k: int = -1, top_p: float = 1.0, temperature: float = 1.0) -> Tensor:
    """Return logits [B, V] scaled by 1/temperature with everything outside top-k / top-p set to -inf."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature} (use top_k=1 for greedy decoding)")
    logits = logits.float() / temperature
    V = logits.shape[-1]
    if 0 < top_k < V:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # drop a token when the tokens ranked above it already hold top_p of the mass
        drop_sorted = (probs.cumsum(dim=-1) - probs) > top_p
        drop_sorted[..., 0] = False
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(logits: Tensor, top_k: int = -1, top_p: float = 1.0, temperature: float = 1.0,
                generator: Optional[torch.Generator] = None) -> Tensor:
    """Pick one token per row of ``logits`` [B, V] -> LongTensor [B]. ``top_k == 1`` is greedy (argmax)."""
    if top_k == 1:
        return logits.argmax(dim=-1)
    filtered = filter_logits(logits, top_k, top_p, temperature)
    probs = filtered.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
