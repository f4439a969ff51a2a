"""Stage 3: codec codes for every tokenized supervision, as lhotse cuts with features.

For each part: recordings from ``<manifests>/<prefix>_recordings_<part>.jsonl.gz`` and the
stage-2 supervisions from ``<tokenized>/<prefix>_supervisions_<part>.jsonl.gz`` become one
``MonoCut`` per supervision (its start/duration span), whose audio is loaded from the untouched
source file, downmixed to mono, resampled to the codec's rate and encoded (``--codec``: Encodec
by default, or codec2; see valle/codec). The result is
``<tokenized>/<prefix>_cuts_<part>.jsonl.gz`` (under torchrun: ``..._<part>.<rank>-of-<world>.jsonl.gz``,
merged by stage 4), with archives under ``<tokenized>/codes/``.

Work is cut into chunks of ``chunk_size`` cuts, each committed atomically (see codes_archive), so
a killed run resumes where it stopped and ends with the same outputs as an uninterrupted one.
A stamp ``.stage3_<prefix>_<part>.stamp.json`` beside the output (valle.utils.stage_stamp)
records the parameters: the same parameters skip the part, changed ones redo it; each codes
folder keeps its own ``.chunks.stamp.json``, so finished chunks are reused only for the same
parameters. How many processes or which device did the work does not change the outputs.

The codec's facts (name, rates, codebooks) go into every cut (``cut.custom["codec"]``) and into
``<tokenized>/codec.json``, which training and synthesis read to use the same codec. The encoding
loops (CPU worker processes, GPU batches) are in cut_encoding.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from valle.codec import Codec, CodecError, codec_identity, facts_of, load_codec
from valle.data.codes_archive import write_chunk, write_codec_record
from valle.data.cut_encoding import encode_cpu, encode_gpu
from valle.utils.atomic import atomic_path, atomic_write_text
from valle.utils.digest import file_digest
from valle.utils.progress import progress as progress_bar
from valle.utils.stage_stamp import StageStamp

logger = logging.getLogger(__name__)

STAMP_VERSION = 4  # bump when the outputs change for the same inputs (4: codec facts in every cut)
CPU_ENCODERS = ("fast", "encodec")  # encodec_cpu groups (default) | encodec's model.encode per cut


@dataclass
class TokenizeOptions:
    manifests_dir: Path
    tokenized_dir: Path
    prefix: str
    parts: Optional[List[str]] = None
    codec: str = "encodec"  # a --codec spec: encodec, encodec:PATH, encodec:random or codec2
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


def check_sampling_rates(recordings, codec: Codec, recordings_path: Path) -> None:
    """Refuse recordings below the codec's lowest input rate (codec2: 8 kHz), naming them all."""
    low = sorted((r.sampling_rate, r.id) for r in recordings if r.sampling_rate < codec.min_input_rate)
    if low:
        listing = ", ".join(f"{rid} ({sr} Hz)" for sr, rid in low[:5]) + (" ..." if len(low) > 5 else "")
        raise CodecError(
            f"{recordings_path}: {len(low)} recordings are sampled below the {codec.min_input_rate} Hz that "
            f"--codec {codec.name} needs: {listing}; leave them out of the corpus, resample the originals "
            f"from a higher-rate source, or use --codec encodec"
        )


# ----------------------------------------------------------------------------- layout

def shard_suffix(opts: TokenizeOptions) -> str:
    return "" if opts.world_size == 1 else f".{opts.rank}-of-{opts.world_size}"


def output_path(opts: TokenizeOptions, part: str) -> Path:
    return opts.tokenized_dir / f"{opts.prefix}_cuts_{part}{shard_suffix(opts)}.jsonl.gz"


def part_stamp(opts: TokenizeOptions, part: str) -> StageStamp:
    out = output_path(opts, part)
    return StageStamp(opts.tokenized_dir, f"stage3_{opts.prefix}_{part}{shard_suffix(opts)}",
                      legacy=[out.with_name("." + out.name + ".stamp.json")])


def _stale_reason(opts: TokenizeOptions, part: str, params: dict) -> str:
    """"" when the part's cuts manifest is current for ``params``, else why not."""
    return part_stamp(opts, part).stale_reason(params, [output_path(opts, part)])


def chunk_dir(opts: TokenizeOptions, part: str) -> Path:
    return opts.tokenized_dir / "codes" / f"{opts.prefix}_{part}{shard_suffix(opts)}"


def chunk_files(directory: Path, index: int) -> Tuple[Path, Path]:
    return directory / f"codes-{index:05d}.h5", directory / f"cuts-{index:05d}.jsonl.gz"


def _reset_chunk_dir(directory: Path, params: dict) -> None:
    """Keep finished chunks only if they were made with ``params``; otherwise start over."""
    stamp = StageStamp(directory, "chunks", legacy=[directory / "params.json"])
    if not stamp.stale_reason(params):
        for stale in directory.glob(".tmp-*"):  # a chunk whose write a kill or a full disk cut short
            stale.unlink(missing_ok=True)
        return
    stamp.clear()
    if directory.is_dir():
        removed = 0
        for f in directory.iterdir():
            if f.name.startswith(("codes-", "cuts-", ".tmp-")):
                f.unlink()
                removed += 1
        if removed:
            logger.info("%s: parameters changed, removed %d old chunk files", directory, removed)
    directory.mkdir(parents=True, exist_ok=True)
    stamp.write(params)  # vouches for the chunks to come: each one is written whole or not at all


# ----------------------------------------------------------------------------- the stage

def tokenize_part(opts: TokenizeOptions, part: str, codec: Optional[Codec] = None) -> Path:
    """Encode one part (this rank's shard of it); returns the cuts manifest path."""
    from lhotse import CutSet, RecordingSet, SupervisionSet, load_manifest, load_manifest_lazy

    rec_path, sup_path = input_paths(opts, part)
    out, stamp = output_path(opts, part), part_stamp(opts, part)
    params = part_params(opts, part)
    if stamp.up_to_date(params, [out], what=f"stage 3: {out}"):
        return out

    if codec is None:
        codec = load_codec(opts.codec, opts.device)
    recordings: RecordingSet = load_manifest(rec_path)
    check_sampling_rates(recordings, codec, rec_path)
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
        if torch.device(opts.device).type == "cpu":
            results = encode_cpu(codec, [chunks[i] for i in pending], opts.nj, opts.cpu_encoder)
        else:
            results = encode_gpu(codec, [cut for i in pending for cut in chunks[i]], opts.batch_duration, opts.nj)
        _collect(results, [(i, chunks[i]) for i in pending], directory, part, opts.progress, codec)

    written = 0
    with atomic_path(out) as tmp, CutSet.open_writer(tmp) as writer:  # streamed: one chunk in memory at a time
        for i in range(len(chunks)):
            for cut in load_manifest_lazy(chunk_files(directory, i)[1]):
                writer.write(cut)
                written += 1
    stamp.write(params)
    logger.info("%s: wrote %s (%d cuts)", part, out, written)
    return out


def _collect(results: Iterator[Tuple[str, np.ndarray]], chunks: List[Tuple[int, list]],
             directory: Path, part: str, show_progress: bool, codec: Codec) -> None:
    """Write each chunk as soon as all its cuts have codes (results may come in any order)."""
    owner = {cut.id: index for index, cuts in chunks for cut in cuts}
    duration = {cut.id: cut.duration for _, cuts in chunks for cut in cuts}
    remaining = {index: len(cuts) for index, cuts in chunks}
    members = dict(chunks)
    codes: Dict[int, Dict[str, np.ndarray]] = {index: {} for index, _ in chunks}
    seconds = sum(c.duration for _, cuts in chunks for c in cuts)
    bar = progress_bar(total=seconds, desc=f"stage 3: {codec.name} {part}", unit="s audio", enabled=show_progress,
                       bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]")
    start = time.time()
    with bar:
        for cut_id, array in results:
            index = owner[cut_id]
            codes[index][cut_id] = array
            remaining[index] -= 1
            bar.update(duration[cut_id])
            if remaining[index] == 0:
                archive, manifest = chunk_files(directory, index)
                write_chunk(members[index], codes.pop(index), archive, manifest, codec)
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
    codec = None
    outputs = []
    for part in parts:
        input_paths(opts, part)
        if codec is None and _stale_reason(opts, part, part_params(opts, part)):
            codec = load_codec(opts.codec, opts.device)
        outputs.append(tokenize_part(opts, part, codec))
    write_codec_record(opts.tokenized_dir, codec.facts() if codec is not None else facts_of(opts.codec))
    return outputs


def part_params(opts: TokenizeOptions, part: str) -> dict:
    """Everything the part's outputs depend on; recorded in the stamp and the chunk folder."""
    rec_path, sup_path = input_paths(opts, part)
    params = {
        "version": STAMP_VERSION,
        "recordings": file_digest(rec_path, gunzip=rec_path.suffix == ".gz"),
        "supervisions": file_digest(sup_path, gunzip=sup_path.suffix == ".gz"),
        "codec": codec_identity(opts.codec),
        "chunk_size": opts.chunk_size,
        "rank": opts.rank,
        "world_size": opts.world_size,
    }
    if opts.cpu_encoder != "fast":  # its codes differ from the default's at float ties (docs/codec.md);
        params["cpu_encoder"] = opts.cpu_encoder  # absent for the default, so older outputs stay current
    return params

