"""Stage 3: Encodec codes for every tokenized supervision, as lhotse cuts with features.

For each part: recordings from ``<manifests>/<prefix>_recordings_<part>.jsonl.gz`` and the
stage-2 supervisions from ``<tokenized>/<prefix>_supervisions_<part>.jsonl.gz`` become one
``MonoCut`` per supervision (its start/duration span), whose audio is loaded from the untouched
source file, downmixed to mono, resampled to 24 kHz and encoded. The result is
``<tokenized>/<prefix>_cuts_<part>.jsonl.gz`` (under torchrun: ``..._<part>.<rank>-of-<world>.jsonl.gz``,
merged by stage 4), with archives under ``<tokenized>/codes/``.

Work is cut into chunks of ``chunk_size`` cuts, each committed atomically (see codes_archive), so
a killed run resumes where it stopped and ends with the same outputs as an uninterrupted one.
A stamp beside the output records the parameters: the same parameters skip the part, changed
ones redo it. How many processes or which device did the work does not change the outputs.

CPU: ``nj`` forked worker processes with one torch thread each, each encoding groups of cuts of
similar duration with codec_cpu (convolutions per cut, channels-last; one LSTM batch per group; codes
equal encodec's up to float ties), or with ``cpu_encoder="encodec"`` one ``model.encode`` call per
cut (codes bit-identical to the encodec package's, ~1.8x slower). GPU: batches of up to
``batch_duration`` seconds, right-padded and trimmed per cut (codec_batch keeps that exact).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import multiprocessing
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from valle.codec.encodec_model import (RANDOM, SAMPLE_RATE, encode_audio, hub_checkpoint_path, load_encodec_model, to_codec_input,
                              weights_label)
from valle.codec.encodec_batch import encode_batch
from valle.codec.encodec_cpu import GROUP_SIZE, CpuEncoder
from valle.data.codes_archive import write_chunk
from valle.utils.atomic import atomic_path, atomic_write_text

logger = logging.getLogger(__name__)

STAMP_VERSION = 3  # bump when the outputs change for the same inputs
CPU_ENCODERS = ("fast", "encodec")  # codec_cpu groups (default) | encodec's model.encode per cut


@dataclass
class TokenizeOptions:
    manifests_dir: Path
    tokenized_dir: Path
    prefix: str
    parts: Optional[List[str]] = None
    codec_weights: Optional[str] = None
    device: str = "cpu"
    nj: int = 1
    batch_duration: float = 200.0
    chunk_size: int = 200
    cpu_encoder: str = "fast"
    rank: int = 0
    world_size: int = 1
    progress: bool = True


# ----------------------------------------------------------------------------- inputs

def find_parts(tokenized_dir: Path, prefix: str) -> List[str]:
    """Parts that stage 2 tokenized: ``<prefix>_supervisions_<part>.jsonl.gz`` in ``tokenized_dir``."""
    head = f"{prefix}_supervisions_"
    return sorted(p.name[len(head):-len(".jsonl.gz")] for p in tokenized_dir.glob(f"{head}*.jsonl.gz"))


def input_paths(opts: TokenizeOptions, part: str) -> Tuple[Path, Path]:
    recordings = opts.manifests_dir / f"{opts.prefix}_recordings_{part}.jsonl.gz"
    supervisions = opts.tokenized_dir / f"{opts.prefix}_supervisions_{part}.jsonl.gz"
    for path, stage in ((recordings, "stage 1 (manifests)"), (supervisions, "stage 2 (text tokens)")):
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: run {stage} first, or check --prefix/--manifests-dir/--tokenized-dir")
    return recordings, supervisions


def make_cuts(recordings, supervisions, supervisions_path: Path) -> Tuple[list, List[str]]:
    """One MonoCut per supervision (its span), and the ids of recordings without a supervision.

    The codes are of the downmix of all channels; a supervision that names several channels
    is attached with the cut's channel (the first one) so the cut stays a valid MonoCut.
    """
    from lhotse import MonoCut

    cuts, used = [], set()
    for sup in supervisions:
        if sup.recording_id not in recordings:
            raise ValueError(
                f"{supervisions_path}: supervision {sup.id} refers to recording {sup.recording_id}, "
                f"which is not in the recordings manifest; rerun stages 1-2 so both come from the same run"
            )
        if not (sup.custom or {}).get("text_tokens"):
            raise ValueError(f"{supervisions_path}: supervision {sup.id} has no custom['text_tokens']; run stage 2 first")
        rec = recordings[sup.recording_id]
        channel = sup.channel if isinstance(sup.channel, int) else sup.channel[0]
        if not isinstance(sup.channel, int):
            sup = replace(sup, channel=channel)
        used.add(rec.id)
        cuts.append(MonoCut(id=sup.id, start=sup.start, duration=sup.duration, channel=channel,
                            recording=rec, supervisions=[sup]))
    skipped = sorted(r.id for r in recordings if r.id not in used)
    return cuts, skipped


def _content_digest(path: Path) -> str:
    """sha256 of a manifest's content (gzip headers carry a time stamp, so hash the payload)."""
    digest = hashlib.sha256()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def codec_identity(weights: Optional[str]) -> str:
    """What the codes depend on: ``random``, the published checkpoint, or a file's content."""
    if weights == RANDOM:
        return RANDOM
    path = hub_checkpoint_path() if weights is None else Path(weights)
    name = "pretrained" if weights is None else "file"
    if not path.is_file():
        return name  # load_encodec_model reports the problem
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{name}:sha256:{digest.hexdigest()}"


# ----------------------------------------------------------------------------- layout

def shard_suffix(opts: TokenizeOptions) -> str:
    return "" if opts.world_size == 1 else f".{opts.rank}-of-{opts.world_size}"


def output_path(opts: TokenizeOptions, part: str) -> Path:
    return opts.tokenized_dir / f"{opts.prefix}_cuts_{part}{shard_suffix(opts)}.jsonl.gz"


def stamp_path(opts: TokenizeOptions, part: str) -> Path:
    out = output_path(opts, part)
    return out.with_name("." + out.name + ".stamp.json")


def chunk_dir(opts: TokenizeOptions, part: str) -> Path:
    return opts.tokenized_dir / "codes" / f"{opts.prefix}_{part}{shard_suffix(opts)}"


def chunk_files(directory: Path, index: int) -> Tuple[Path, Path]:
    return directory / f"codes-{index:05d}.h5", directory / f"cuts-{index:05d}.jsonl.gz"


def _reset_chunk_dir(directory: Path, params: dict) -> None:
    """Keep finished chunks only if they were made with ``params``; otherwise start over."""
    params_file = directory / "params.json"
    if params_file.is_file() and json.loads(params_file.read_text()) == params:
        for stale in directory.glob(".tmp-*"):  # a chunk whose write a kill or a full disk cut short
            stale.unlink(missing_ok=True)
        return
    if directory.is_dir():
        removed = 0
        for f in directory.iterdir():
            if f.name.startswith(("codes-", "cuts-", ".tmp-")) or f.name == "params.json":
                f.unlink()
                removed += 1
        if removed:
            logger.info("%s: parameters changed, removed %d old chunk files", directory, removed)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(params_file, json.dumps(params, indent=1, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------- encoding

def load_cut_audio(cut) -> torch.Tensor:
    """The cut's span of the source file, all channels downmixed, at 24 kHz: ``[1, samples]``."""
    rec = cut.recording
    try:
        audio = rec.load_audio(offset=cut.start, duration=cut.duration)
    except Exception as e:
        sources = ", ".join(str(s.source) for s in rec.sources)
        raise ValueError(
            f"cut {cut.id}: cannot load {cut.duration:.3f} s at {cut.start:.3f} s from {sources} "
            f"({type(e).__name__}: {e}); stage 1 should have rejected this file: rerun stages 1-2"
        ) from None
    return to_codec_input(torch.from_numpy(np.ascontiguousarray(audio)), rec.sampling_rate)


_WORKER: Dict[str, object] = {}


def _die_with_parent() -> None:
    """Linux: a worker gets SIGKILL when the stage process dies (e.g. is SIGKILLed), instead of
    lingering as an orphan that still holds the task pipe open."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class PerCutEncoder:
    """encodec's own ``model.encode``, one call per cut: the encodec package's codes, bit for bit
    (with the same torch thread count); ``--cpu-encoder encodec``."""

    def __init__(self, model) -> None:
        self.model = model

    @torch.inference_mode()
    def encode_group(self, wavs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        return [encode_audio(self.model, wav[None], SAMPLE_RATE) for wav in wavs]


def make_cpu_encoder(model, kind: str):
    """The CPU encoder named by ``--cpu-encoder``: ``fast`` (codec_cpu) or ``encodec``."""
    if kind not in CPU_ENCODERS:
        raise ValueError(f"--cpu-encoder must be one of {', '.join(CPU_ENCODERS)}, got {kind!r}")
    return CpuEncoder(model) if kind == "fast" else PerCutEncoder(model)


def _worker_init(weights: Optional[str], kind: str) -> None:
    torch.set_num_threads(1)
    _die_with_parent()
    if "encoder" not in _WORKER:  # spawn start method: the parent's encoder was not inherited
        _WORKER["encoder"] = make_cpu_encoder(load_encodec_model(weights, "cpu"), kind)


def _release_memory() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``).

    Every cut has its own length, so the encoder's large activations come in ever different
    sizes; glibc keeps the freed ones in fragmented arenas and a process's RSS kept growing with
    the number of cuts (1.0 -> 1.8 GB over 30 cuts of 1-6 s). Trimming after each group keeps it
    flat (about 1.0 GB) for a fraction of a millisecond per call.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()


def cpu_groups(chunks: Sequence[Sequence], group_size: int = GROUP_SIZE) -> List[list]:
    """The cuts of each chunk in groups of ``group_size`` similar durations, longest group first.

    Groups never span chunks, so chunks finish (and are committed) in order, and a group depends
    only on its chunk: the LSTM batches, hence the floats, are the same for any ``--nj`` and after
    a resume. Longest first lets the workers' last groups end close together.
    """
    groups = []
    for cuts in chunks:
        ordered = sorted(cuts, key=lambda c: (-c.duration, c.id))
        groups.extend(ordered[i:i + group_size] for i in range(0, len(ordered), group_size))
    return groups


def _encode_group(encoder, cuts: Sequence) -> List[Tuple[str, np.ndarray]]:
    wavs = [load_cut_audio(cut)[0] for cut in cuts]
    codes = encoder.encode_group(wavs)
    del wavs
    _release_memory()
    return [(cut.id, c.numpy().astype(np.int16)) for cut, c in zip(cuts, codes)]


def _worker_encode_group(cuts: Sequence) -> List[Tuple[str, np.ndarray]]:
    return _encode_group(_WORKER["encoder"], cuts)


def _encode_cpu(model, chunks: Sequence[Sequence], nj: int, weights: Optional[str],
                kind: str = "fast") -> Iterator[Tuple[str, np.ndarray]]:
    """Codes per cut, group by group (see ``cpu_groups``): in this process for ``nj == 1``, else
    in ``nj`` worker processes with one torch thread each."""
    encoder = make_cpu_encoder(model, kind)
    groups = cpu_groups(chunks)
    if nj <= 1 or len(groups) <= 1:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for group in groups:
                yield from _encode_group(encoder, group)
        finally:
            torch.set_num_threads(threads)
        return
    # fork shares the prepared encoder with the workers (no per-worker load); spawn reloads it.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    _WORKER["encoder"] = encoder
    try:
        with multiprocessing.get_context(method).Pool(nj, initializer=_worker_init, initargs=(weights, kind)) as pool:
            for results in pool.imap(_worker_encode_group, groups, chunksize=1):
                yield from results
    finally:
        _WORKER.pop("encoder", None)


def _encode_gpu(model, cuts: Sequence, batch_duration: float, nj: int) -> Iterator[Tuple[str, np.ndarray]]:
    """Codes per cut, encoded in padded batches of up to ``batch_duration`` seconds of audio."""
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
            wavs = list(loader.map(lambda c: load_cut_audio(c)[0], batch))
            encoded = encode_batch(model, wavs)
            del wavs
            _release_memory()
            for cut, codes in zip(batch, encoded):
                yield cut.id, codes.numpy().astype(np.int16)


# ----------------------------------------------------------------------------- the stage

def tokenize_part(opts: TokenizeOptions, part: str, model=None) -> Path:
    """Encode one part (this rank's shard of it); returns the cuts manifest path."""
    from lhotse import CutSet, RecordingSet, SupervisionSet, load_manifest, load_manifest_lazy

    rec_path, sup_path = input_paths(opts, part)
    out, stamp = output_path(opts, part), stamp_path(opts, part)
    params = part_params(opts, part)
    if _is_up_to_date(opts, part, params):
        logger.info("%s: up to date (same inputs and parameters), nothing to do", out)
        return out

    recordings: RecordingSet = load_manifest(rec_path)
    supervisions: SupervisionSet = load_manifest(sup_path)
    cuts, skipped = make_cuts(recordings, supervisions, sup_path)
    if skipped:
        listing = opts.tokenized_dir / f"{opts.prefix}_recordings_without_supervision_{part}.txt"
        atomic_write_text(listing, "".join(r + "\n" for r in skipped))
        logger.warning("%s: %d recordings have no supervision (rejected by stage 2?), skipped; listed in %s",
                       part, len(skipped), listing)
    cuts = cuts[opts.rank::opts.world_size]
    chunks = [cuts[i:i + opts.chunk_size] for i in range(0, len(cuts), opts.chunk_size)]

    directory = chunk_dir(opts, part)
    _reset_chunk_dir(directory, params)
    pending = [i for i in range(len(chunks)) if not chunk_files(directory, i)[1].is_file()]
    done_cuts = sum(len(chunks[i]) for i in range(len(chunks)) if i not in set(pending))
    logger.info("%s%s: %d cuts in %d chunks; %d chunks already done (%d cuts)", part, shard_suffix(opts),
                len(cuts), len(chunks), len(chunks) - len(pending), done_cuts)

    if pending:
        if model is None:
            model = load_encodec_model(opts.codec_weights, opts.device)
        if torch.device(opts.device).type == "cpu":
            results = _encode_cpu(model, [chunks[i] for i in pending], opts.nj, opts.codec_weights,
                                  opts.cpu_encoder)
        else:
            results = _encode_gpu(model, [cut for i in pending for cut in chunks[i]], opts.batch_duration, opts.nj)
        _collect(results, [(i, chunks[i]) for i in pending], directory, part, opts.progress,
                 weights_label(opts.codec_weights))

    written = 0
    with atomic_path(out) as tmp, CutSet.open_writer(tmp) as writer:  # streamed: one chunk in memory at a time
        for i in range(len(chunks)):
            for cut in load_manifest_lazy(chunk_files(directory, i)[1]):
                writer.write(cut)
                written += 1
    atomic_write_text(stamp, json.dumps(params, indent=1, sort_keys=True) + "\n")
    logger.info("%s: wrote %s (%d cuts)", part, out, written)
    return out


def _collect(results: Iterator[Tuple[str, np.ndarray]], chunks: List[Tuple[int, list]],
             directory: Path, part: str, progress: bool, codec_weights: str) -> None:
    """Write each chunk as soon as all its cuts have codes (results may come in any order)."""
    from tqdm import tqdm

    owner = {cut.id: index for index, cuts in chunks for cut in cuts}
    duration = {cut.id: cut.duration for _, cuts in chunks for cut in cuts}
    remaining = {index: len(cuts) for index, cuts in chunks}
    members = dict(chunks)
    codes: Dict[int, Dict[str, np.ndarray]] = {index: {} for index, _ in chunks}
    seconds = sum(c.duration for _, cuts in chunks for c in cuts)
    bar = tqdm(total=seconds, desc=f"encodec {part}", unit="s audio", disable=not progress,
               dynamic_ncols=True, mininterval=1.0, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]")
    start = time.time()
    with bar:
        for cut_id, array in results:
            index = owner[cut_id]
            codes[index][cut_id] = array
            remaining[index] -= 1
            bar.update(duration[cut_id])
            if remaining[index] == 0:
                archive, manifest = chunk_files(directory, index)
                write_chunk(members[index], codes.pop(index), archive, manifest, codec_weights)
    elapsed = time.time() - start
    logger.info("%s: encoded %.1f s of audio in %.1f s (%.1fx real time)", part, seconds, elapsed,
                seconds / max(elapsed, 1e-9))


def distributed_rank() -> Tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) otherwise."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def tokenize_audio(opts: TokenizeOptions) -> List[Path]:
    """Stage 3 for every part (or ``opts.parts``); loads the codec once for all parts."""
    parts = opts.parts or find_parts(opts.tokenized_dir, opts.prefix)
    if not parts:
        raise FileNotFoundError(
            f"no {opts.prefix}_supervisions_<part>.jsonl.gz in {opts.tokenized_dir}: run stage 2 first "
            f"or check --prefix/--tokenized-dir"
        )
    logger.info("stage 3 options: %s", {k: str(v) for k, v in asdict(opts).items()})
    model = None
    outputs = []
    for part in parts:
        input_paths(opts, part)
        if model is None and not _is_up_to_date(opts, part):
            model = load_encodec_model(opts.codec_weights, opts.device)
        outputs.append(tokenize_part(opts, part, model))
    return outputs


def part_params(opts: TokenizeOptions, part: str) -> dict:
    """Everything the part's outputs depend on; recorded in the stamp and the chunk folder."""
    rec_path, sup_path = input_paths(opts, part)
    params = {
        "version": STAMP_VERSION,
        "recordings": _content_digest(rec_path),
        "supervisions": _content_digest(sup_path),
        "codec": codec_identity(opts.codec_weights),
        "chunk_size": opts.chunk_size,
        "rank": opts.rank,
        "world_size": opts.world_size,
    }
    if opts.cpu_encoder != "fast":  # its codes differ from the default's at float ties (docs/codec.md);
        params["cpu_encoder"] = opts.cpu_encoder  # absent for the default, so older outputs stay current
    return params


def _is_up_to_date(opts: TokenizeOptions, part: str, params: Optional[dict] = None) -> bool:
    out, stamp = output_path(opts, part), stamp_path(opts, part)
    if not (out.is_file() and stamp.is_file()):
        return False
    params = params or part_params(opts, part)
    return json.loads(stamp.read_text()) == params
