"""Attention masks (True = may attend, the SDPA convention), built once per step and shared by all layers.

AR: text rows see all real text and no audio; audio rows see all real text and real audio up to
themselves. NAR: every row sees every real position. Text position 0 is always real (text
lengths are >= 1), so no query row is ever fully masked and SDPA never produces NaN rows.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def lengths_to_valid(lengths: Tensor, max_len: int) -> Tensor:
    """[B] lengths -> [B, max_len] bool, True on real positions (right padding)."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def ar_structure(num_text: int, num_audio: int, device=None) -> Tensor:
    """[L, L] bool: text->text, audio->text, audio->audio causally."""
    L = num_text + num_audio
    idx = torch.arange(L, device=device)
    row, col = idx[:, None], idx[None, :]
    return (col < num_text) | ((row >= num_text) & (col <= row))


def ar_mask(num_text: int, num_audio: int, key_valid: Optional[Tensor], device=None) -> Tensor:
    """AR mask, [L, L] without padding or [B, 1, L, L] with ``key_valid`` [B, L]."""
    struct = ar_structure(num_text, num_audio, device)
    if key_valid is None or bool(key_valid.all()):
        return struct
    return struct[None, None] & key_valid[:, None, None, :]


def padding_mask(key_valid: Tensor) -> Optional[Tensor]:
    """NAR (and single-query) mask [B, 1, 1, L]; None when nothing is padded."""
    if bool(key_valid.all()):
        return None
    return key_valid[:, None, None, :]
