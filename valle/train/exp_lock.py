"""One training per experiment folder: an exclusive ``flock`` on ``<exp-dir>/.lock``.

Two runs in one ``--exp-dir`` remove each other's temporary checkpoint files and interleave
their checkpoints and ``steps.jsonl``. The kernel releases a flock when its process dies, even
by SIGKILL, so a killed run never leaves a lock that blocks the rerun; the file itself only
records who holds it, for the message.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path
from typing import Iterator

LOCK_NAME = ".lock"


class ExperimentLocked(ValueError):
    """Another live process trains in this experiment folder."""


@contextlib.contextmanager
def experiment_lock(exp_dir, option: str = "--exp-dir") -> Iterator[Path]:
    """Hold the experiment folder's lock for the ``with`` block; raise ExperimentLocked if taken."""
    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    path = exp_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown process"
            raise ExperimentLocked(
                f"{option} {exp_dir} is in use by another training ({holder}): wait for it to finish, "
                f"stop it, or pass another {option}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # released: nobody holds it (a killed holder's line is only stale text)
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def is_main_process() -> bool:
    """Rank 0 of a torchrun launch (or a plain run): the one process that takes the lock."""
    return int(os.environ.get("RANK", "0")) == 0


def hold(exp_dir):
    """The lock on rank 0, nothing on other ranks (they train in the same folder by design)."""
    return experiment_lock(exp_dir) if is_main_process() else contextlib.nullcontext()


def main() -> None:  # pragma: no cover - a holder for tests and shell use: python -m valle.train.exp_lock DIR
    import sys

    with experiment_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 3600)


if __name__ == "__main__":
    main()
