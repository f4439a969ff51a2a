"""Validation losses: the AR on every batch, the NAR on every one of its codebook stages.

Training draws one NAR stage (codebook 1..7) per batch. Validation must not: on a small dev
set a fixed RNG fork would score the same stage at every validation, and the "best" NAR
checkpoint would be chosen on one codebook. So each validation batch runs the NAR once per
stage (``batch["nar_stage"]`` pins it) and the result holds ``nar_loss_q<k>`` and
``nar_top10_acc_q<k>`` for every stage k (frame-weighted over the dev set), their plain mean
over the seven stages as ``nar_loss`` / ``nar_top10_acc``, and ``loss`` = ``ar_loss`` +
``nar_loss`` for the stages trained.
"""
from __future__ import annotations

import argparse
from typing import Callable, Dict, Iterable

import torch

from valle.train.checkpoint import forked_rng
from valle.train.forward import compute_loss, unwrap


def validate(model, loader, args, device, world_size: int) -> Dict[str, float]:
    """Frame-weighted mean losses and accuracies over the validation set (all ranks), the NAR
    scored on every codebook stage. Runs in a forked RNG, so training draws never shift."""
    was_training = model.training
    model.eval()
    num_q = unwrap(model).config.num_quantizers

    def forward(batch, stage):
        return compute_loss(model, batch, argparse.Namespace(**{**vars(args), "train_stage": stage}), device)

    with torch.no_grad(), forked_rng(args.seed + 7919):
        sums, weights = validation_sums(forward, loader, args.train_stage, num_q)
    model.train(was_training)
    return combine(*reduce_dicts(sums, weights, device, world_size))


def _accumulate(sums: Dict[str, float], weights: Dict[str, float], out: dict, half: str, suffix: str = "") -> None:
    n = float(out.get(f"{half}_frames", 0) or 0)
    for metric in ("loss", "top10_acc"):
        key = f"{half}_{metric}"
        if key in out and n > 0:
            name = key + suffix
            sums[name] += float(out[key]) * n
            weights[name] += n


def validation_sums(forward: Callable[[dict, int], dict], batches: Iterable[dict], train_stage: int,
                    num_quantizers: int):
    """(sums, weights) of frame-weighted losses/accuracies; ``forward(batch, stage)`` runs the model."""
    keys = []
    if train_stage in (0, 1):
        keys += ["ar_loss", "ar_top10_acc"]
    if train_stage in (0, 2):
        keys += [f"nar_{m}_q{q}" for q in range(1, num_quantizers) for m in ("loss", "top10_acc")]
    sums = {k: 0.0 for k in keys}  # the same keys on every rank, even one without batches
    weights = {k: 0.0 for k in keys}
    for batch in batches:
        if train_stage in (0, 1):
            _accumulate(sums, weights, forward(batch, 1), "ar")
        if train_stage in (0, 2):
            for q in range(1, num_quantizers):
                out = forward({**batch, "nar_stage": q}, 2)
                _accumulate(sums, weights, out, "nar", f"_q{q}")
    return sums, weights


def combine(sums: Dict[str, float], weights: Dict[str, float]) -> Dict[str, float]:
    """Means from (all-reduced) sums and weights. ``nar_loss`` / ``nar_top10_acc`` are the plain
    means over the stages (each codebook counts the same); ``loss`` = ``ar_loss`` + ``nar_loss``."""
    res = {k: sums[k] / weights[k] for k in sorted(sums) if weights.get(k, 0) > 0}
    for metric in ("loss", "top10_acc"):
        staged = [v for k, v in res.items() if k.startswith(f"nar_{metric}_q")]
        if staged:
            res[f"nar_{metric}"] = sum(staged) / len(staged)
    halves = [res[k] for k in ("ar_loss", "nar_loss") if k in res]
    if halves:
        res["loss"] = sum(halves)
    order = ["loss", "ar_loss", "nar_loss", "ar_top10_acc", "nar_top10_acc"]
    return {k: res[k] for k in order + sorted(k for k in res if k not in order) if k in res}


def reduce_dicts(sums: Dict[str, float], weights: Dict[str, float], device, world_size: int):
    """All-reduce two dicts over ranks (every rank has the same keys: same stages, same model)."""
    keys = sorted(sums)
    if world_size <= 1:
        return sums, weights
    t = torch.tensor([sums[k] for k in keys] + [weights[k] for k in keys], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    vals = t.tolist()
    n = len(keys)
    return dict(zip(keys, vals[:n])), dict(zip(keys, vals[n:]))
