"""Learning-rate schedules driven by batch count (and, for Eden, epoch count).

The training loop calls ``step_batch(batch_idx)`` after every optimizer step and
``step_epoch(epoch)`` at the start of each epoch. Each schedule is a pure function of those two
counters times every group's ``base_lr``, so its state is just the counters: resuming restores
them and the next learning rate is exactly what an uninterrupted run would use. The one exception,
``BudgetCosine``, decays over the share of a run's CPU budget spent (``--max-cpu-seconds``), which
the loop sets before each ``step_batch``: the time a step takes depends on the machine, so the
number of steps a budget holds is not known in advance.
"""
from __future__ import annotations

import math
from typing import List

from torch.optim import Optimizer


class LRSchedule:
    """Base class: sets ``group["lr"] = base_lr * factor()`` for every param group."""

    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("base_lr", group["lr"])
        self.base_lrs = [g["base_lr"] for g in optimizer.param_groups]
        self.batch = 0
        self.epoch = 0
        self._apply()

    def factor(self) -> float:
        raise NotImplementedError

    def get_last_lr(self) -> List[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def _apply(self) -> None:
        f = self.factor()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * f

    def step_batch(self, batch: int | None = None) -> None:
        self.batch = self.batch + 1 if batch is None else int(batch)
        self._apply()

    def step_epoch(self, epoch: int | None = None) -> None:
        self.epoch = self.epoch + 1 if epoch is None else float(epoch)
        self._apply()

    def state_dict(self) -> dict:
        return {"batch": self.batch, "epoch": self.epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict) -> None:
        self.batch = state["batch"]
        self.epoch = state["epoch"]
        self.base_lrs = list(state["base_lrs"])
        self._apply()


class Eden(LRSchedule):
    """lr = base · ((b²+B²)/B²)^-¼ · ((e²+E²)/E²)^-¼ · warm-up.

    Flat at first, then decaying like b^-½ · e^-½: the batch term handles within-run decay on
    big corpora, the epoch term small ones where few batches pass per epoch. The warm-up rises
    linearly from ``warmup_start`` to 1 over ``warmup_batches`` batches.
    """

    def __init__(self, optimizer: Optimizer, lr_batches: float, lr_epochs: float,
                 warmup_batches: float = 500.0, warmup_start: float = 0.5):
        if lr_batches <= 0 or lr_epochs <= 0:
            raise ValueError(f"Eden: lr_batches and lr_epochs must be > 0, got {lr_batches}, {lr_epochs}")
        self.lr_batches = lr_batches
        self.lr_epochs = lr_epochs
        self.warmup_batches = warmup_batches
        self.warmup_start = warmup_start
        super().__init__(optimizer)

    def factor(self) -> float:
        b, e = self.batch, self.epoch
        B, E = self.lr_batches, self.lr_epochs
        f = ((b * b + B * B) / (B * B)) ** -0.25 * ((e * e + E * E) / (E * E)) ** -0.25
        if self.warmup_batches > 0 and b < self.warmup_batches:
            f *= self.warmup_start + (1.0 - self.warmup_start) * b / self.warmup_batches
        return f


class Noam(LRSchedule):
    """Transformer schedule: linear warm-up, then decay ∝ step^-½; peak ``base_lr`` at ``warmup_batches``."""

    def __init__(self, optimizer: Optimizer, warmup_batches: float = 4000.0):
        if warmup_batches <= 0:
            raise ValueError(f"Noam: warmup_batches must be > 0, got {warmup_batches}")
        self.warmup_batches = warmup_batches
        super().__init__(optimizer)

    def factor(self) -> float:
        step = max(self.batch, 1)
        w = self.warmup_batches
        return min(step ** -0.5, step * w ** -1.5) * w ** 0.5


class _WarmupCosine(LRSchedule):
    """Linear warm-up over ``warmup_batches`` steps, then half-cosine decay from ``base_lr`` to
    ``min_ratio · base_lr`` as ``progress()`` goes from 0 to 1 (clamped outside)."""

    def __init__(self, optimizer: Optimizer, warmup_batches: float, min_ratio: float):
        self.warmup_batches = warmup_batches
        self.min_ratio = min_ratio
        super().__init__(optimizer)

    def progress(self) -> float:
        raise NotImplementedError

    def factor(self) -> float:
        b = self.batch
        if self.warmup_batches > 0 and b < self.warmup_batches:
            return (b + 1) / self.warmup_batches
        progress = min(max(self.progress(), 0.0), 1.0)
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class Cosine(_WarmupCosine):
    """Linear warm-up to ``base_lr`` then half-cosine decay to ``min_ratio · base_lr`` at ``total_batches``."""

    def __init__(self, optimizer: Optimizer, total_batches: float, warmup_batches: float = 500.0,
                 min_ratio: float = 0.01):
        if total_batches <= 0:
            raise ValueError(f"Cosine: total_batches must be > 0, got {total_batches}")
        self.total_batches = total_batches
        super().__init__(optimizer, warmup_batches, min_ratio)

    def progress(self) -> float:
        return (self.batch - self.warmup_batches) / max(self.total_batches - self.warmup_batches, 1)


class BudgetCosine(_WarmupCosine):
    """``Cosine`` over a CPU budget instead of a step count: after the warm-up (by steps) the decay
    follows ``spent``, the share of the run's CPU budget used (0..1, set by the training loop), and
    reaches ``min_ratio · base_lr`` when it reaches 1.

    For runs that stop on ``--max-cpu-seconds``: the learning rate is at its minimum when the budget
    ends, however many steps this machine fits into it. ``spent`` is the run's own: a run resumed
    with a new budget decays again over that budget (a warm restart at ``base_lr``).
    """

    def __init__(self, optimizer: Optimizer, warmup_batches: float = 500.0, min_ratio: float = 0.01):
        self.spent = 0.0
        super().__init__(optimizer, warmup_batches, min_ratio)

    def progress(self) -> float:
        return self.spent
