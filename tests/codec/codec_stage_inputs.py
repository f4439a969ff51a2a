"""Stage-3 inputs built with lhotse directly, in the layout stages 1-2 write (tests/codec helper)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence, Tuple


def write_stage2_inputs(root: Path, files: Sequence[Path], prefix: str = "corpus", part: str = "train",
                        supervise: Sequence[bool] = ()) -> Tuple[Path, Path]:
    """Copy ``files`` into ``root/audio`` and write ``root/data/manifests`` and ``root/data/tokenized``.

    One supervision over each whole recording, with ``custom["text_tokens"]``; ``supervise[i]``
    False leaves recording ``i`` without one (as when stage 2 rejected it).
    """
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

    manifests, tokenized = root / "data" / "manifests", root / "data" / "tokenized"
    manifests.mkdir(parents=True, exist_ok=True)
    tokenized.mkdir(parents=True, exist_ok=True)
    recordings, supervisions = [], []
    for i, src in enumerate(files):
        dst = root / "audio" / f"{i:02d}-{src.name}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
        rec = Recording.from_file(dst, recording_id=f"rec{i:02d}")
        recordings.append(rec)
        if i < len(supervise) and not supervise[i]:
            continue
        supervisions.append(SupervisionSegment(
            id=f"utt{i:02d}", recording_id=rec.id, start=0.0, duration=rec.duration,
            channel=rec.channel_ids[0] if len(rec.channel_ids) == 1 else rec.channel_ids,
            text="some text", language="en-us", speaker="spk",
            custom={"text_tokens": ["s", "ʌ", "m"]},
        ))
    RecordingSet.from_recordings(recordings).to_file(manifests / f"{prefix}_recordings_{part}.jsonl.gz")
    SupervisionSet.from_segments(supervisions).to_file(tokenized / f"{prefix}_supervisions_{part}.jsonl.gz")
    return manifests, tokenized
