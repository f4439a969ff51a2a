"""Stage 3's encoding loops: codes for lhotse cuts, on CPU worker processes or in GPU batches.

CPU: ``nj`` forked worker processes with one torch thread each; each encodes groups of cuts of
similar duration with the codec's group encoder (for Encodec, encodec_cpu: convolutions per cut,
one LSTM batch per group). GPU (Encodec): batches of up to ``batch_duration`` seconds, right-padded
and trimmed per cut (encodec_batch keeps that exact). Both yield ``(cut_id, int16 codes)`` as
they are ready; tokenize_audio commits them chunk by chunk.
"""
from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch

from valle.utils.process import die_with_parent, release_memory

# Cuts per group: 8 gives Encodec's LSTM ~3x less time per cut than 1; more gains little.
GROUP_SIZE = 8


def load_cut_audio(cut, codec) -> torch.Tensor:
    """The cut's span of the source file, all channels downmixed, at the codec's rate: ``[1, samples]``."""
    rec = cut.recording
    try:
        audio = rec.load_audio(offset=cut.start, duration=cut.duration)
    except Exception as e:
        sources = ", ".join(str(s.source) for s in rec.sources)
        raise ValueError(
            f"cut {cut.id}: cannot load {cut.duration:.3f} s at {cut.start:.3f} s from {sources} "
            f"({type(e).__name__}: {e}); stage 1 should have rejected this file: rerun stages 1-2"
        ) from None
    return codec.to_input(torch.from_numpy(np.ascontiguousarray(audio)), rec.sampling_rate)


def cpu_groups(chunks: Sequence[Sequence], group_size: int = GROUP_SIZE) -> List[list]:
    """The cuts of each chunk in groups of ``group_size`` similar durations, longest group first.

    Groups never span chunks, so chunks finish (and are committed) in order, and a group depends
    only on its chunk: Encodec's LSTM batches, hence the floats, are the same for any ``--nj``
    and after a resume. Longest first lets the workers' last groups end close together.
    """
    groups = []
    for cuts in chunks:
        ordered = sorted(cuts, key=lambda c: (-c.duration, c.id))
        groups.extend(ordered[i:i + group_size] for i in range(0, len(ordered), group_size))
    return groups


_WORKER: Dict[str, object] = {}


def _worker_init(spec: str, kind: str) -> None:
    torch.set_num_threads(1)
    die_with_parent()
    if "encoder" not in _WORKER:  # spawn start method: the parent's encoder was not inherited
        from valle.codec import load_codec

        codec = load_codec(spec, "cpu")
        _WORKER["codec"], _WORKER["encoder"] = codec, codec.group_encoder(kind)


def _encode_group(codec, encoder, cuts: Sequence) -> List[Tuple[str, np.ndarray]]:
    wavs = [load_cut_audio(cut, codec)[0] for cut in cuts]
    codes = encoder.encode_group(wavs)
    del wavs
    release_memory()
    return [(cut.id, c.numpy().astype(np.int16)) for cut, c in zip(cuts, codes)]


def _worker_encode_group(cuts: Sequence) -> List[Tuple[str, np.ndarray]]:
    return _encode_group(_WORKER["codec"], _WORKER["encoder"], cuts)


def encode_cpu(codec, chunks: Sequence[Sequence], nj: int, kind: str = "fast") -> Iterator[Tuple[str, np.ndarray]]:
    """Codes per cut, group by group (see ``cpu_groups``): in this process for ``nj == 1``, else
    in ``nj`` worker processes with one torch thread each."""
    encoder = codec.group_encoder(kind)
    groups = cpu_groups(chunks)
    if nj <= 1 or len(groups) <= 1:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for group in groups:
                yield from _encode_group(codec, encoder, group)
        finally:
            torch.set_num_threads(threads)
        return
    # fork shares the prepared encoder with the workers (no per-worker load); spawn reloads it.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    _WORKER.update(codec=codec, encoder=encoder)
    try:
        with multiprocessing.get_context(method).Pool(nj, initializer=_worker_init, initargs=(codec.spec, kind)) as pool:
            for results in pool.imap(_worker_encode_group, groups, chunksize=1):
                yield from results
    finally:
        _WORKER.clear()


def encode_gpu(codec, cuts: Sequence, batch_duration: float, nj: int) -> Iterator[Tuple[str, np.ndarray]]:
    """Codes per cut, encoded in padded batches of up to ``batch_duration`` seconds of audio."""
    encode_batch = codec.batch_encoder()
    order = sorted(range(len(cuts)), key=lambda i: cuts[i].duration, reverse=True)
    batches, batch, total = [], [], 0.0
    for i in order:
        if batch and total + cuts[i].duration > batch_duration:
            batches.append(batch)
            batch, total = [], 0.0
        batch.append(cuts[i])
        total += cuts[i].duration
    if batch:
        batches.append(batch)
    with ThreadPoolExecutor(max(1, nj)) as loader:
        for batch in batches:
            wavs = list(loader.map(lambda c: load_cut_audio(c, codec)[0], batch))
            encoded = encode_batch(wavs)
            del wavs
            release_memory()
            for cut, codes in zip(batch, encoded):
                yield cut.id, codes.numpy().astype(np.int16)
