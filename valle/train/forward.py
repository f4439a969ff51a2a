"""One forward pass of a training batch: to the device, under the run's autocast dtype."""
from __future__ import annotations

import contextlib
from typing import Dict

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def to_device(batch: Dict[str, object], device: torch.device) -> Dict[str, object]:
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


def compute_loss(model, batch, args, device) -> Dict[str, object]:
    """Forward one batch under the chosen autocast dtype; returns the model's loss dict."""
    dtype = DTYPES[args.dtype]
    ctx = (torch.autocast(device_type=device.type, dtype=dtype) if dtype != torch.float32
           else contextlib.nullcontext())
    batch = to_device(batch, device)
    if getattr(args, "nar_stages_per_step", 1) > 1:
        batch["nar_stages_per_step"] = args.nar_stages_per_step
    if getattr(args, "guided_attention_weight", 0.0) > 0:
        batch["guided_attention"] = (args.guided_attention_weight, args.guided_attention_sigma)
    with ctx:
        return model(batch, train_stage=args.train_stage)


def unwrap(model):
    """The VALLE inside DDP / torch.compile wrappers."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or getattr(model, "_orig_mod")
    return model
