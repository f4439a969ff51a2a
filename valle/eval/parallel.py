"""Score many utterances on several CPU cores: one ``Scorer`` per worker process.

pocketsphinx decodes on one core; resemblyzer (torch) and DNSMOS (onnxruntime) are set to one
thread per worker, so ``jobs`` workers use ``jobs`` cores without oversubscription.  Records come
back in the order of the jobs.
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import List, Sequence, Tuple

from valle.utils.progress import progress

_WORKER = {}


def _init(scorer_kwargs: dict) -> None:
    import torch

    from valle.utils.process import clean_up_at_worker_exit

    clean_up_at_worker_exit()

    torch.set_num_threads(1)
    from valle.eval.scoring import Scorer

    _WORKER["scorer"] = Scorer(**scorer_kwargs)


def _score(job: Tuple) -> dict:
    return _WORKER["scorer"].score(*job)


def score_all(scorer, jobs: Sequence[Tuple], workers: int, scorer_kwargs: dict, desc: str = "scoring") -> List[dict]:
    """``scorer.score(*job)`` for every job: in this process when ``workers`` <= 1, else in a pool;
    a progress bar named ``desc`` on a terminal."""
    bar = dict(total=len(jobs), desc=desc, unit="utt")
    if workers <= 1 or len(jobs) < 2:
        return [scorer.score(*job) for job in progress(jobs, **bar)]
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch/onnx threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init,
                             initargs=(scorer_kwargs,)) as pool:
        return list(progress(pool.map(_score, jobs, chunksize=max(1, len(jobs) // (4 * workers))), **bar))
