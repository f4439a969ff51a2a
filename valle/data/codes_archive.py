"""One chunk of Encodec codes on disk: an HDF5 archive of int16 ``[frames, 8]`` arrays plus its cuts.

Stage 3 commits its work chunk by chunk so a killed run keeps every finished chunk: the archive
is written under a temporary name and renamed, then the chunk's cut manifest (which points at
the archive) is written atomically. A chunk counts as done when its manifest exists; an archive
without a manifest is an interrupted chunk and is simply rewritten.

Codes are stored in lhotse's ``numpy_hdf5`` format (exact; lilcom would be lossy) so
``cut.load_features()`` returns them. They are trimmed to lhotse's frame count for the cut
(``compute_num_frames``, i.e. round(duration * 75)): Encodec yields ceil(samples / 320) frames,
at most one more, and trimming makes ``features.num_frames == cut.num_frames``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from valle.codec.encodec_model import FRAME_SHIFT, NUM_CODEBOOKS, SAMPLE_RATE
from valle.utils.atomic import atomic_path, atomic_save_manifest

FEATURE_TYPE = "encodec"


def cut_num_frames(duration: float) -> int:
    """The number of frames lhotse assigns a cut of ``duration`` seconds with codec features."""
    from lhotse.utils import compute_num_frames

    return compute_num_frames(duration, FRAME_SHIFT, SAMPLE_RATE)


def fit_codes(codes: np.ndarray, duration: float, cut_id: str) -> np.ndarray:
    """Codes as int16 with exactly the frame count lhotse expects for the cut."""
    expected = cut_num_frames(duration)
    if codes.ndim != 2 or codes.shape[1] != NUM_CODEBOOKS:
        raise ValueError(f"cut {cut_id}: codes of shape {codes.shape}, expected [frames, {NUM_CODEBOOKS}]")
    if not expected - 1 <= codes.shape[0] <= expected + 1:
        raise ValueError(
            f"cut {cut_id}: Encodec gave {codes.shape[0]} frames for {duration:.3f} s, expected "
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


def write_chunk(cuts: Sequence, codes: Dict[str, np.ndarray], archive: Path, manifest: Path,
                codec_weights: str) -> None:
    """Store ``codes[cut.id]`` for every cut in ``archive``, then the cuts (with features) in ``manifest``.

    ``cut.custom["codec_weights"]`` records which Encodec weights made the codes (``random``,
    a path, or ``pretrained:<checkpoint>``), so later stages can refuse or flag random codes.
    """
    from lhotse import CutSet, Features
    from lhotse.features.io import NumpyHdf5Writer

    arrays = {cut.id: fit_codes(codes[cut.id], cut.duration, cut.id) for cut in cuts}
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
            type=FEATURE_TYPE,
            num_frames=arrays[cut.id].shape[0],
            num_features=NUM_CODEBOOKS,
            frame_shift=FRAME_SHIFT,
            sampling_rate=SAMPLE_RATE,
            start=cut.start,
            duration=cut.duration,
            storage_type=NumpyHdf5Writer.name,
            storage_path=str(archive),
            storage_key=cut.id,
            recording_id=cut.recording_id,
            channels=cut.channel,
        )
        cut.custom = {**(cut.custom or {}), "codec_weights": codec_weights}
        with_features.append(cut)
    try:
        atomic_save_manifest(CutSet.from_cuts(with_features), manifest)
    except OSError as e:
        raise OSError(e.errno, f"cannot write {manifest}: {e.strerror or e} "
                               f"(disk full or no write permission?); rerun stage 3 after fixing it") from e
