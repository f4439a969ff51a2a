"""Bucketing sampler for training: lhotse's DynamicBucketingSampler plus a resumable position.

Defaults are chosen for padding efficiency (real frames / padded frames) on a LibriTTS-like
duration distribution (mean 5.6 s, p95 14.8 s, max 20 s): ``bench/train.py`` measures it.
With 10 buckets (the widely used open recipe) batches mix 8 s and 11 s cuts and waste ~10 %
of every batch on padding; finer buckets keep cuts of a batch within a narrow duration band.

Resume: lhotse's own ``state_dict`` counts batches the *DataLoader* drew, which runs ahead of
the batches trained on when loading is prefetched. ``ResumableSampler`` instead records the
epoch and the number of batches the training loop consumed; on resume it rebuilds the epoch's
deterministic order (same seed, same epoch) and skips that many batches, so the next batch is
exactly the one an uninterrupted run would train on.

DDP: every rank builds the same single-process order and takes batch ``rank`` of each round of
``world_size`` batches, so a W-process step trains on exactly the global batch a single process
sees with ``--accumulate-grad-steps W`` (an incomplete last round is dropped on every rank).
"""
from __future__ import annotations

import logging
import warnings
from typing import Dict, Iterator, Optional

from lhotse import CutSet
from lhotse.dataset import DynamicBucketingSampler, DynamicCutSampler

log = logging.getLogger(__name__)

DEFAULT_NUM_BUCKETS = 40
DEFAULT_MAX_DURATION = 80.0


def filter_cuts(cuts: CutSet, min_duration: float, max_duration: float, what: str) -> CutSet:
    """Keep cuts with ``min_duration <= duration <= max_duration``; an empty result is an error."""
    kept = cuts.filter(lambda c: min_duration <= c.duration <= max_duration).to_eager()
    if len(kept) == 0:
        raise ValueError(
            f"{what}: no cut left after the duration filter [{min_duration}, {max_duration}] s "
            f"(of {len(cuts)} cuts); widen --filter-min-duration / --filter-max-duration"
        )
    dropped = len(cuts) - len(kept)
    if dropped:
        log.info("%s: duration filter dropped %d of %d cuts", what, dropped, len(cuts))
    return kept


class ResumableSampler:
    """Iterates a DynamicBucketingSampler from a recorded (epoch, batches consumed) position.

    The training loop calls ``set_epoch(e)`` before each epoch and ``consumed()`` after each
    trained batch; ``state_dict()`` is the position to store in a checkpoint.
    """

    def __init__(self, cuts: CutSet, max_duration: float = DEFAULT_MAX_DURATION,
                 num_buckets: int = DEFAULT_NUM_BUCKETS, quadratic_duration: Optional[float] = None,
                 shuffle: bool = True, drop_last: bool = False, buffer_size: int = 20000,
                 shuffle_buffer_size: Optional[int] = None, num_cuts_for_bins_estimate: int = 10000,
                 seed: int = 0, world_size: int = 1, rank: int = 0):
        n = len(cuts)
        if num_buckets > max(1, n // 2):
            adjusted = max(1, n // 2)
            log.info("only %d cuts: using %d buckets instead of %d", n, adjusted, num_buckets)
            num_buckets = adjusted
        longest = max(c.duration for c in cuts)
        if longest > max_duration:
            raise ValueError(
                f"--max-duration {max_duration} s is shorter than the longest cut ({longest:.2f} s): "
                "raise --max-duration or lower --filter-max-duration"
            )
        self.options = dict(
            max_duration=max_duration, num_buckets=num_buckets, quadratic_duration=quadratic_duration,
            shuffle=shuffle, drop_last=drop_last, buffer_size=buffer_size,
            shuffle_buffer_size=shuffle_buffer_size,
            num_cuts_for_bins_estimate=num_cuts_for_bins_estimate, seed=seed,
            world_size=world_size, rank=rank,
        )
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        self.world_size, self.rank = world_size, rank
        self.epoch, self.batches_done, self._skip = 0, 0, 0
        # Every rank builds the same single-process batch order and takes its share of each round
        # (see __iter__), so W ranks see exactly the batches one process would see with
        # --accumulate-grad-steps W: DDP and single-process runs are comparable batch for batch.
        common = dict(max_duration=max_duration, shuffle=shuffle, drop_last=drop_last, seed=seed,
                      world_size=1, rank=0, quadratic_duration=quadratic_duration)
        if num_buckets < 2:  # too few cuts to estimate bucket bins: plain dynamic batching
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self.sampler = DynamicCutSampler(cuts, **common)
            return
        extra = {} if shuffle_buffer_size is None else {"shuffle_buffer_size": shuffle_buffer_size}
        with warnings.catch_warnings():  # lhotse's "eager CutSet" hint: we filter eagerly on purpose
            warnings.simplefilter("ignore", UserWarning)
            self.sampler = DynamicBucketingSampler(
                cuts, max_duration=max_duration, num_buckets=num_buckets,
                quadratic_duration=quadratic_duration, shuffle=shuffle, drop_last=drop_last,
                buffer_size=buffer_size, num_cuts_for_bins_estimate=num_cuts_for_bins_estimate, seed=seed,
                world_size=1, rank=0, **extra,
            )
        self.epoch, self.batches_done, self._skip = 0, 0, 0

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.batches_done = 0
            self._skip = 0
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def consumed(self) -> None:
        self.batches_done += 1

    def __iter__(self) -> Iterator[CutSet]:
        """This rank's batches: round ``k`` of ``world_size`` consecutive batches gives rank ``r`` its ``r``-th.

        An incomplete last round is dropped so every rank runs the same number of steps.
        """
        self.sampler.set_epoch(self.epoch)
        it = iter(self.sampler)
        skip, self._skip = self._skip, 0
        round_: list = []
        # Plain next() calls: ``yield from it`` would call lhotse's __iter__ again, which restarts it.
        while True:
            try:
                round_.append(next(it))
            except StopIteration:
                return
            if len(round_) < self.world_size:
                continue
            batch, round_ = round_[self.rank], []
            if skip > 0:
                skip -= 1
                continue
            yield batch

    def state_dict(self) -> Dict[str, object]:
        return {"epoch": self.epoch, "batches_done": self.batches_done,
                "options": {k: v for k, v in self.options.items() if v is not None}}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        """Position the sampler at ``state``; the next ``__iter__`` skips the consumed batches."""
        self.epoch = int(state["epoch"])
        self.batches_done = int(state["batches_done"])
        self._skip = self.batches_done
        self.sampler.set_epoch(self.epoch)
        old = state.get("options", {})
        changed = {k: (old[k], v) for k, v in self.options.items() if k in old and old[k] != v
                   and k not in ("rank",)}
        if changed:
            log.warning("sampler options differ from the checkpoint's %s: batches after resume "
                        "will not match the interrupted run", changed)
