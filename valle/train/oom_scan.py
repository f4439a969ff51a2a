"""Pessimistic-batch OOM scan (GPU): run the largest batches the sampler can form before training.

A run that would run out of memory on its longest batch should fail in the first minute, with
the fix (a smaller --max-duration), not after hours. For the longest few ``--max-duration``
batches of the training set we run forward and backward once and then throw the gradients away.
"""
from __future__ import annotations

import logging

import torch
from lhotse import CutSet

log = logging.getLogger(__name__)


def pessimistic_batches(cuts: CutSet, max_duration: float, num: int = 2):
    """Batches made of the longest cuts, each filled up to ``max_duration`` seconds."""
    ordered = sorted(cuts, key=lambda c: c.duration, reverse=True)
    batches, cur, dur = [], [], 0.0
    for c in ordered:
        if cur and dur + c.duration > max_duration:
            batches.append(CutSet.from_cuts(cur))
            if len(batches) >= num:
                break
            cur, dur = [], 0.0
        cur.append(c)
        dur += c.duration
    if cur and len(batches) < num:
        batches.append(CutSet.from_cuts(cur))
    return batches


def scan_pessimistic_batches(trainer) -> None:
    from valle.train.checkpoint import forked_rng
    from valle.train.forward import compute_loss

    args = trainer.args
    model = trainer.model_ddp
    model.train()
    with forked_rng(args.seed + 1):
        for cuts in pessimistic_batches(trainer.train_cuts, args.max_duration):
            batch = trainer.dataset[cuts]
            try:
                out = compute_loss(model, batch, args, trainer.device)
                out["loss"].backward()
            except torch.cuda.OutOfMemoryError as e:
                raise RuntimeError(
                    f"out of GPU memory on a {sum(c.duration for c in cuts):.1f} s batch of the longest cuts: "
                    f"lower --max-duration (now {args.max_duration}) or --filter-max-duration, or use "
                    f"--dtype bfloat16 / --activation-checkpointing"
                ) from e
            finally:
                model.zero_grad(set_to_none=True)
    log.info("OOM scan passed: peak %.2f GB", torch.cuda.max_memory_allocated() / 1e9)
