"""A tiny tokenized corpus for the training faults, from the shared builder in tests/synthetic_corpus.py.

Lhotse cuts with int16 Encodec-shaped codes written with a real lhotse storage writer, in the
layout stage 3 produces (docs/interfaces.md).
"""
from __future__ import annotations

from pathlib import Path

from synthetic_corpus import PHONES, make_data_dir

__all__ = ["PHONES", "make_train_dir", "train_args"]


def make_train_dir(root: Path, num_train: int = 8, num_dev: int = 2) -> Path:
    return make_data_dir(root, num_train=num_train, num_dev=num_dev, seed=1, max_frames=80)


def train_args(data_dir: Path, exp_dir: Path, *extra: str) -> list:
    return ["--tokenized-dir", str(data_dir), "--exp-dir", str(exp_dir), "--model-preset", "nano",
            "--num-workers", "0", "--tensorboard", "false", "--log-interval", "1000", "--max-duration", "2.5",
            "--filter-min-duration", "0.1", "--warmup-steps", "0", "--device", "cpu", "--valid-interval", "1000",
            "--synthesize-at-valid", "false", *extra]
