"""``progress(iterable, ...)``: the one progress bar of the data stages and evaluation.

tqdm on stderr, drawn only when stderr is a terminal (tqdm's ``disable=None``: no bar in log files
and pipes, where the stages' log lines say how far they got), redrawn at most once a second.
"""
from __future__ import annotations

import sys
from typing import Iterable, Optional


def progress(iterable: Optional[Iterable] = None, total: Optional[float] = None, desc: str = "",
             unit: str = "it", enabled: bool = True, **tqdm_options):
    """A tqdm bar over ``iterable`` (or, with ``iterable`` None, one to ``update()`` by hand)."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, disable=None if enabled else True,
                mininterval=1.0, dynamic_ncols=True, **tqdm_options)
