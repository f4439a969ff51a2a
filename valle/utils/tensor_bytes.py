"""How many bytes a set of tensors holds (what a step reads when they are weights)."""
from __future__ import annotations

from typing import Iterable

import torch


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the elements of ``tensors`` (e.g. ``module.parameters()``), at their own dtypes."""
    return sum(t.numel() * t.element_size() for t in tensors)
