"""One chunk of codec codes on disk: an HDF5 archive of int16 ``[frames, Q]`` arrays plus its cuts.

Stage 3 commits its work chunk by chunk so a killed run keeps every finished chunk: the archive
is written under a temporary name and renamed, then the chunk's cut manifest (which points at
the archive) is written atomically. A chunk counts as done when its manifest exists; an archive
without a manifest is an interrupted chunk and is simply rewritten.

Codes are stored in lhotse's ``numpy_hdf5`` format (exact; lilcom would be lossy) so
``cut.load_features()`` returns them. They are trimmed to lhotse's frame count for the cut
(``compute_num_frames``, i.e. round(duration * frame rate)): a codec yields ceil(samples / hop)
frames, at most one more, and trimming makes ``features.num_frames == cut.num_frames``.

``codec.json`` beside the cuts records the codec's facts for the whole prepared data set, so
training and synthesis use the same codec without being told again.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from valle.utils.atomic import atomic_path, atomic_save_manifest, atomic_write_text

CODEC_RECORD = "codec.json"


def write_codec_record(tokenized_dir: Path, facts: Dict[str, object]) -> Path:
    """``<tokenized>/codec.json``: the facts of the codec that made the prepared codes."""
    path = Path(tokenized_dir) / CODEC_RECORD
    atomic_write_text(path, json.dumps(facts, indent=1, sort_keys=True) + "\n")
    return path


def read_codec_record(tokenized_dir: Path) -> Optional[Dict[str, object]]:
    """The facts ``write_codec_record`` wrote, or None for data prepared before codec.json existed."""
    path = Path(tokenized_dir) / CODEC_RECORD
    return json.loads(path.read_text()) if path.is_file() else None


def cut_num_frames(duration: float, codec) -> int:
    """The number of frames lhotse assigns a cut of ``duration`` seconds with ``codec``'s features."""
    from lhotse.utils import compute_num_frames

    return compute_num_frames(duration, codec.frame_shift, codec.sample_rate)


def fit_codes(codes: np.ndarray, duration: float, cut_id: str, codec) -> np.ndarray:
    """Codes as int16 with exactly the frame count lhotse expects for the cut."""
    expected = cut_num_frames(duration, codec)
    if codes.ndim != 2 or codes.shape[1] != codec.num_quantizers:
        raise ValueError(f"cut {cut_id}: codes of shape {codes.shape}, expected [frames, {codec.num_quantizers}]")
    if not expected - 1 <= codes.shape[0] <= expected + 1:
        raise ValueError(
            f"cut {cut_id}: {codec.name} gave {codes.shape[0]} frames for {duration:.3f} s, expected "
            f"{expected} +- 1; the recording's duration in the manifest does not match its audio"
        )
    if codes.shape[0] < expected:  # pad by repeating the last frame (lhotse does the same on load)
        codes = np.concatenate([codes, codes[-1:]], axis=0)
    codes = codes[:expected]
    if codes.min() < 0 or codes.max() > np.iinfo(np.int16).max:
        raise ValueError(f"cut {cut_id}: codes outside the int16 range")
    return codes.astype(np.int16)


def _hdf5_image(arrays: Dict[str, np.ndarray]) -> bytes:
    """An HDF5 file in memory, laid out as lhotse's ``NumpyHdf5Writer`` writes it (one dataset per
    key), so lhotse's ``numpy_hdf5`` reader loads it.

    Built in memory and written with a plain file write because HDF5 itself crashed the process
    (SIGSEGV) when the disk filled up mid-write; a Python write raises a clean ``OSError``.
    """
    import io

    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
    return buffer.getvalue()


def write_chunk(cuts: Sequence, codes: Dict[str, np.ndarray], archive: Path, manifest: Path, codec) -> None:
    """Store ``codes[cut.id]`` for every cut in ``archive``, then the cuts (with features) in ``manifest``.

    ``cut.custom["codec"]`` records the facts of the codec that made the codes (its ``--codec``
    spec, rates, codebooks, whether its weights were random), so later stages use the same codec
    and can refuse or flag random codes.
    """
    from lhotse import CutSet, Features
    from lhotse.features.io import NumpyHdf5Writer

    arrays = {cut.id: fit_codes(codes[cut.id], cut.duration, cut.id, codec) for cut in cuts}
    facts = codec.facts()
    try:
        image = _hdf5_image(arrays)
        with atomic_path(archive) as tmp:
            tmp.write_bytes(image)
    except OSError as e:
        raise OSError(e.errno, f"cannot write the codes archive {archive}: {e.strerror or e} "
                               f"(disk full or no write permission?); rerun stage 3 after fixing it") from e
    with_features: List = []
    for cut in cuts:
        cut.features = Features(
            type=codec.name,
            num_frames=arrays[cut.id].shape[0],
            num_features=codec.num_quantizers,
            frame_shift=codec.frame_shift,
            sampling_rate=codec.sample_rate,
            start=cut.start,
            duration=cut.duration,
            storage_type=NumpyHdf5Writer.name,
            storage_path=str(archive),
            storage_key=cut.id,
            recording_id=cut.recording_id,
            channels=cut.channel,
        )
        cut.custom = {**(cut.custom or {}), "codec": facts}
        with_features.append(cut)
    try:
        atomic_save_manifest(CutSet.from_cuts(with_features), manifest)
    except OSError as e:
        raise OSError(e.errno, f"cannot write {manifest}: {e.strerror or e} "
                               f"(disk full or no write permission?); rerun stage 3 after fixing it") from e
