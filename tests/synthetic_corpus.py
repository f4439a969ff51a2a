"""Tiny tokenized corpora (MonoCut + Recording + Encodec-like features), shared by the train and robustness tests.

Codes are int16 ``[frames, 8]`` written with a real lhotse storage writer, the layout
prepare.sh stage 3 produces (docs/interfaces.md). They follow a simple per-utterance pattern
(a few distinct codebook-0 values per utterance) so a nano model can overfit them in seconds.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from lhotse import CutSet, Features, MonoCut, Recording, SupervisionSegment
from lhotse.audio import AudioSource
from lhotse.features.io import NumpyFilesWriter

from valle.text.symbol_table import SymbolTable

FRAME_SHIFT = 320 / 24000
PHONES = ["a", "b", "d", "e", "i", "k", "m", "n", "o", "s", "t", "u"]


def make_cuts(out_dir: Path, name: str, num: int, seed: int = 0, min_frames: int = 40,
              max_frames: int = 90, speakers: int = 2) -> CutSet:
    rng = np.random.default_rng(seed)
    cuts = []
    with NumpyFilesWriter(out_dir / f"{name}_feats") as writer:
        for i in range(num):
            frames = int(rng.integers(min_frames, max_frames + 1))
            base = int(rng.integers(0, 1000))
            t = np.arange(frames)
            codes = np.stack([(base + (t // 6) % 5 + 3 * q) % 1024 for q in range(8)], axis=1).astype(np.int16)
            cid = f"{name}-{i:03d}"
            key = writer.write(cid, codes)
            dur = round(frames * FRAME_SHIFT, 6)
            rec = Recording(id=cid, sources=[AudioSource(type="file", channels=[0], source=f"/nonexistent/{cid}.wav")],
                            sampling_rate=24000, num_samples=frames * 320, duration=dur)
            feats = Features(type="encodec", num_frames=frames, num_features=8, frame_shift=FRAME_SHIFT,
                             sampling_rate=24000, start=0, duration=dur, storage_type=writer.name,
                             storage_path=str(writer.storage_path), storage_key=key, recording_id=cid, channels=0)
            tokens = [PHONES[j] for j in rng.integers(0, len(PHONES), int(rng.integers(5, 12)))]
            sup = SupervisionSegment(id=cid, recording_id=cid, start=0, duration=dur, channel=0,
                                     text=" ".join(tokens), language="en-us", speaker=f"spk{i % speakers}",
                                     custom={"text_tokens": tokens})
            cuts.append(MonoCut(id=cid, start=0, duration=dur, channel=0, recording=rec, features=feats,
                                supervisions=[sup]))
    return CutSet.from_cuts(cuts)


def make_data_dir(root: Path, num_train: int = 8, num_dev: int = 2, seed: int = 0, repeat: int = 1,
                  dev_is_train: bool = False, symbols=None, **kw) -> Path:
    """``repeat`` > 1 lists each training utterance that many times (new ids, same features)."""
    d = root / "tokenized"
    d.mkdir(parents=True, exist_ok=True)
    train = make_cuts(d, "train", num_train, seed=seed, **kw)
    copies = [c.with_id(f"{c.id}-r{r}") for r in range(repeat) for c in train] if repeat > 1 else list(train)
    CutSet.from_cuts(copies).to_file(d / "cuts_train.jsonl.gz")
    if dev_is_train:
        train.to_file(d / "cuts_dev.jsonl.gz")
    elif num_dev:
        make_cuts(d, "dev", num_dev, seed=seed + 1, **kw).to_file(d / "cuts_dev.jsonl.gz")
    table = SymbolTable(symbols) if symbols is not None else SymbolTable.for_corpus(PHONES)
    table.to_file(d / "unique_text_tokens.k2symbols")
    return d


def add_tokens(data_dir: Path, tokens: list) -> None:
    """Append ``tokens`` to the first training cut's text and to the data's symbol table."""
    path = data_dir / "cuts_train.jsonl.gz"
    cuts = list(CutSet.from_file(path))
    cuts[0].supervisions[0].custom["text_tokens"] = cuts[0].supervisions[0].custom["text_tokens"] + tokens
    CutSet.from_cuts(cuts).to_file(path)
    table_path = data_dir / "unique_text_tokens.k2symbols"
    table = SymbolTable.from_file(table_path)
    SymbolTable(table.symbols + [t for t in tokens if t not in table]).to_file(table_path)


def base_args(data_dir: Path, exp_dir: Path, *extra: str) -> list:
    return ["--tokenized-dir", str(data_dir), "--exp-dir", str(exp_dir), "--model-preset", "nano",
            "--num-workers", "0", "--tensorboard", "false", "--log-interval", "1000",
            "--max-duration", "4", "--filter-min-duration", "0.1", "--warmup-steps", "0",
            "--device", "cpu", *extra]
