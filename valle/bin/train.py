"""Train or fine-tune VALL-E / VALL-E X: ``python -m valle.bin.train --data-dir data/tokenized ...``.

Multi-process training goes through torchrun (``torchrun --nproc-per-node 2 -m valle.bin.train ...``);
see docs/training.md. Bad input stops before training with a message naming the option to fix.
"""
from __future__ import annotations

import logging
import sys
from typing import List, Optional

from valle.train.options import get_parser as _get_parser, parse_args


def get_parser():
    return _get_parser()


def main(argv: Optional[List[str]] = None):
    parser = get_parser()
    args = parse_args(argv, parser)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from valle.train.checkpoint import CheckpointError
    from valle.train.trainer import TrainingStopped, run

    try:
        return run(args)
    except (FileNotFoundError, ValueError, CheckpointError, TrainingStopped) as e:
        if argv is not None:  # tests and library callers get the exception itself
            raise
        logging.getLogger("valle.bin.train").error("%s", e)
        sys.exit(2)


if __name__ == "__main__":
    main()
