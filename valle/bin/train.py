"""Train or fine-tune VALL-E / VALL-E X: ``python -m valle.bin.train --tokenized-dir data/tokenized ...``.

Multi-process training goes through torchrun (``torchrun --nproc-per-node 2 -m valle.bin.train ...``);
see docs/training.md. Bad input stops before training with a message naming the option to fix.
"""
from __future__ import annotations

from typing import List, Optional

from valle.train.options import get_parser as _get_parser, parse_args
from valle.utils.logging_setup import setup_logging


def get_parser():
    return _get_parser()


def main(argv: Optional[List[str]] = None):
    parser = get_parser()
    args = parse_args(argv, parser)
    setup_logging()
    from valle.train.checkpoint import CheckpointError
    from valle.train.trainer import TrainingStopped, run

    try:
        return run(args)
    except (FileNotFoundError, ValueError, CheckpointError, TrainingStopped) as e:
        if argv is not None:  # tests and library callers get the exception itself
            raise
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    main()
