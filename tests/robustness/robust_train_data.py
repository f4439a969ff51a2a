"""A tiny tokenized corpus for the training faults: lhotse cuts with int16 Encodec-shaped codes.

Written with a real lhotse storage writer in the layout stage 3 produces (docs/interfaces.md);
the codes follow a simple pattern so a nano model's loss moves within a few steps.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

FRAME_SHIFT = 320 / 24000
PHONES = ["a", "b", "d", "e", "i", "k", "m", "n", "o", "s", "t", "u"]


def write_cuts(out_dir: Path, name: str, num: int, seed: int = 0, min_frames: int = 40, max_frames: int = 80):
    from lhotse import CutSet, Features, MonoCut, Recording, SupervisionSegment
    from lhotse.audio import AudioSource
    from lhotse.features.io import NumpyFilesWriter

    rng = np.random.default_rng(seed)
    cuts = []
    with NumpyFilesWriter(out_dir / f"{name}_codes") as writer:
        for i in range(num):
            frames = int(rng.integers(min_frames, max_frames + 1))
            base = int(rng.integers(0, 1000))
            t = np.arange(frames)
            codes = np.stack([(base + (t // 5) % 4 + 7 * q) % 1024 for q in range(8)], axis=1).astype(np.int16)
            cid = f"{name}-{i:03d}"
            key = writer.write(cid, codes)
            dur = round(frames * FRAME_SHIFT, 6)
            rec = Recording(id=cid, sources=[AudioSource(type="file", channels=[0], source=f"/absent/{cid}.wav")],
                            sampling_rate=24000, num_samples=frames * 320, duration=dur)
            feats = Features(type="encodec", num_frames=frames, num_features=8, frame_shift=FRAME_SHIFT,
                             sampling_rate=24000, start=0, duration=dur, storage_type=writer.name,
                             storage_path=str(writer.storage_path), storage_key=key, recording_id=cid, channels=0)
            tokens = [PHONES[j] for j in rng.integers(0, len(PHONES), int(rng.integers(4, 10)))]
            sup = SupervisionSegment(id=cid, recording_id=cid, start=0, duration=dur, channel=0, text=" ".join(tokens),
                                     language="en-us", speaker=f"spk{i % 2}", custom={"text_tokens": tokens})
            cuts.append(MonoCut(id=cid, start=0, duration=dur, channel=0, recording=rec, features=feats,
                                supervisions=[sup]))
    return CutSet.from_cuts(cuts)


def make_train_dir(root: Path, num_train: int = 8, num_dev: int = 2) -> Path:
    from valle.text.symbol_table import SymbolTable

    d = root / "tokenized"
    d.mkdir(parents=True, exist_ok=True)
    write_cuts(d, "train", num_train, seed=1).to_file(d / "cuts_train.jsonl.gz")
    if num_dev:
        write_cuts(d, "dev", num_dev, seed=2).to_file(d / "cuts_dev.jsonl.gz")
    SymbolTable.for_corpus(PHONES).to_file(d / "unique_text_tokens.k2symbols")
    return d


def train_args(data_dir: Path, exp_dir: Path, *extra: str) -> list:
    return ["--data-dir", str(data_dir), "--exp-dir", str(exp_dir), "--model-preset", "nano",
            "--num-workers", "0", "--tensorboard", "false", "--log-interval", "1000", "--max-duration", "2.5",
            "--filter-min-duration", "0.1", "--warmup-steps", "0", "--device", "cpu", "--valid-interval", "1000",
            "--synthesize-at-valid", "false", *extra]
