"""Which parameters train: the AR/NAR stage, then ``--trainable`` and ``--freeze`` globs.

Stage 1 trains parameters whose names start with ``ar_``, stage 2 those with ``nar_``, stage 0
both (the published layout names every parameter with one of these prefixes). Frozen
parameters keep ``requires_grad=False`` and are not given to the optimizer, so switching stage
from a checkpoint leaves the other half's weights exactly as loaded.

Globs match full parameter names with ``fnmatch`` (``ar_predict_layer*`` matches
``ar_predict_layer.weight``). A glob that matches nothing is an error: a typo would otherwise
silently train nothing or everything.
"""
from __future__ import annotations

import fnmatch
import logging
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch

log = logging.getLogger(__name__)

STAGE_PREFIXES = {0: ("ar_", "nar_"), 1: ("ar_",), 2: ("nar_",)}


def _matches(name: str, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def select_trainable(model: torch.nn.Module, train_stage: int,
                     trainable: Optional[Sequence[str]] = None,
                     freeze: Optional[Sequence[str]] = None) -> List[str]:
    """Set ``requires_grad`` on every parameter; return the trainable names. Errors name bad globs."""
    if train_stage not in STAGE_PREFIXES:
        raise ValueError(f"--train-stage must be 0, 1 or 2, got {train_stage}")
    names = [n for n, _ in model.named_parameters()]
    for option, globs in (("--trainable", trainable), ("--freeze", freeze)):
        for g in globs or []:
            if not any(fnmatch.fnmatchcase(n, g) for n in names):
                raise ValueError(
                    f"{option} {g!r} matches no parameter; names look like {names[0]!r} ... {names[-1]!r}"
                )
    prefixes = STAGE_PREFIXES[train_stage]
    chosen = []
    for name, p in model.named_parameters():
        on = name.startswith(prefixes)
        if on and trainable:
            on = _matches(name, trainable)
        if on and freeze:
            on = not _matches(name, freeze)
        p.requires_grad_(on)
        if on:
            chosen.append(name)
    if not chosen:
        raise ValueError(
            f"no parameter is trainable with --train-stage {train_stage}, --trainable {trainable}, "
            f"--freeze {freeze}: the stage trains names starting with {prefixes}"
        )
    return chosen


def trainable_report(model: torch.nn.Module) -> str:
    """Per top-level module: trainable / total parameter counts (tied tensors counted once)."""
    rows: Dict[str, List[int]] = OrderedDict()
    seen = set()
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        top = name.split(".")[0]
        r = rows.setdefault(top, [0, 0])
        r[1] += p.numel()
        if p.requires_grad:
            r[0] += p.numel()
    width = max(len(k) for k in rows)
    lines = [f"{'module':<{width}}  {'trainable':>12}  {'total':>12}"]
    for k, (t, n) in rows.items():
        lines.append(f"{k:<{width}}  {t:>12,}  {n:>12,}")
    t = sum(r[0] for r in rows.values())
    n = sum(r[1] for r in rows.values())
    lines.append(f"{'TOTAL':<{width}}  {t:>12,}  {n:>12,}")
    return "\n".join(lines)
