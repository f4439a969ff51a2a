"""One chunk of Encodec codes on disk: an HDF5 archive of int16 ``[frames, 8]`` arrays plus its cuts.

Stage 3 commits its work chunk by chunk so a killed run keeps every finished chunk: the archive
is written under a temporary name and renamed, then the chunk's cut manifest (which points at
the archive) is written atomically. A chunk counts as done when its manifest exists; an archive
without a manifest is an interrupted chunk and is simply rewritten.

Codes are stored with lhotse's ``NumpyHdf5Writer`` (exact; lilcom would be lossy) so
``cut.load_features()`` returns them. They are trimmed to lhotse's frame count for the cut
(``compute_num_frames``, i.e. round(duration * 75)): Encodec yields ceil(samples / 320) frames,
at most one more, and trimming makes ``features.num_frames == cut.num_frames``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from valle.data.codec import FRAME_SHIFT, NUM_CODEBOOKS, SAMPLE_RATE
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


def write_chunk(cuts: Sequence, codes: Dict[str, np.ndarray], archive: Path, manifest: Path,
                codec_weights: str) -> None:
    """Store ``codes[cut.id]`` for every cut in ``archive``, then the cuts (with features) in ``manifest``.

    ``cut.custom["codec_weights"]`` records which Encodec weights made the codes (``random``,
    a path, or ``pretrained:<checkpoint>``), so later stages can refuse or flag random codes.
    """
    from lhotse import CutSet, Features
    from lhotse.features.io import NumpyHdf5Writer

    with_features: List = []
    with atomic_path(archive) as tmp:
        with NumpyHdf5Writer(tmp, mode="w") as writer:
            if Path(writer.storage_path) != tmp:
                raise RuntimeError(f"NumpyHdf5Writer renamed {tmp} to {writer.storage_path}")
            for cut in cuts:
                array = fit_codes(codes[cut.id], cut.duration, cut.id)
                key = writer.write(cut.id, array)
                cut.features = Features(
                    type=FEATURE_TYPE,
                    num_frames=array.shape[0],
                    num_features=NUM_CODEBOOKS,
                    frame_shift=FRAME_SHIFT,
                    sampling_rate=SAMPLE_RATE,
                    start=cut.start,
                    duration=cut.duration,
                    storage_type=writer.name,
                    storage_path=str(archive),
                    storage_key=key,
                    recording_id=cut.recording_id,
                    channels=cut.channel,
                )
                cut.custom = {**(cut.custom or {}), "codec_weights": codec_weights}
                with_features.append(cut)
    atomic_save_manifest(CutSet.from_cuts(with_features), manifest)
