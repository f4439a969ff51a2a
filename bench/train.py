"""Training benchmark: prints one JSON object.

- ``padding_efficiency``: real / padded frames of the recipe's default sampler settings on a
  LibriTTS-like duration distribution (log-normal clipped to 0.5..20 s with mean 5.6 s and p95
  14.8 s; 20k lhotse dummy cuts), next to the widely used open recipe's settings
  (10 buckets, quadratic_duration 10) for comparison.
- ``train_frames_per_s``: end-to-end training throughput (data loading in 2 worker processes,
  forward, backward, ScaledAdam step) of the d256 / 4 heads / 4 layers model (``small`` preset)
  on CPU, AR+NAR (train stage 0), on synthetic Encodec codes stored with a lhotse writer.

Why this is far below ``bench/model.py``'s stage-1 figure (profiled): it trains stage 0 (AR and
NAR decoders, about twice the work per frame), steps the default ScaledAdam over all 10.6M
parameters (embeddings and output layers included: ~9% of a step on a quiet machine, ~25% under
load before its update was fused), and batches are variable-length. Data loading is not the
bottleneck: the workers only read small int16 arrays (<1% of the main process's time under
cProfile) and sit idle between batches (``--num-workers 0`` compares). The ~120 frames/s seen
while other jobs ran is mostly CPU oversubscription: with more runnable threads than cores,
torch's 2 OpenMP threads wait on each other at every op (same model step under load: 2 threads
364 frames/s, 1 thread 2170 frames/s), so on a shared machine ``OMP_NUM_THREADS=1`` is faster.

Usage: ``.venv/bin/python bench/train.py [--steps 6] [--max-duration 20] [--num-workers 2]`` (about 1-3 minutes).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FRAME_SHIFT = 320 / 24000


def libritts_like_durations(n: int, seed: int = 0) -> np.ndarray:
    """Log-normal clipped to 0.5..20 s; mu, sigma fitted (grid search) so that after clipping the
    mean is 5.6 s and the 95th percentile 14.8 s."""
    d = np.random.default_rng(seed).lognormal(1.47, 0.745, n)
    return np.clip(d, 0.5, 20.0)


def padding_efficiency(durations, max_duration, num_buckets, quadratic_duration=None, seed=0) -> dict:
    from lhotse import CutSet
    from lhotse.testing.dummies import dummy_cut

    from valle.data.sampler import ResumableSampler

    cuts = CutSet.from_cuts(dummy_cut(i, duration=float(d)) for i, d in enumerate(durations))
    sampler = ResumableSampler(cuts, max_duration=max_duration, num_buckets=num_buckets,
                               quadratic_duration=quadratic_duration, shuffle=True, seed=seed)
    sampler.set_epoch(1)
    real = padded = 0.0
    batches = 0
    for batch in sampler:
        frames = [round(c.duration / FRAME_SHIFT) for c in batch]
        real += sum(frames)
        padded += max(frames) * len(frames)
        batches += 1
    return {"efficiency": round(real / padded, 4), "batches": batches,
            "max_duration": max_duration, "num_buckets": num_buckets, "quadratic_duration": quadratic_duration}


def make_corpus(root: Path, durations, seed: int = 0) -> Path:
    from lhotse import CutSet, Features, MonoCut, Recording, SupervisionSegment
    from lhotse.audio import AudioSource
    from lhotse.features.io import NumpyFilesWriter

    from valle.text.symbol_table import SymbolTable

    rng = np.random.default_rng(seed)
    phones = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    d = root / "tokenized"
    d.mkdir(parents=True)
    cuts = []
    with NumpyFilesWriter(d / "feats") as w:
        for i, dur in enumerate(durations):
            frames = max(2, int(round(dur / FRAME_SHIFT)))
            dur = frames * FRAME_SHIFT
            cid = f"b{i:05d}"
            key = w.write(cid, rng.integers(0, 1024, (frames, 8)).astype(np.int16))
            rec = Recording(id=cid, sources=[AudioSource(type="file", channels=[0], source="/nonexistent.wav")],
                            sampling_rate=24000, num_samples=frames * 320, duration=dur)
            feats = Features(type="encodec", num_frames=frames, num_features=8, frame_shift=FRAME_SHIFT,
                             sampling_rate=24000, start=0, duration=dur, storage_type=w.name,
                             storage_path=str(w.storage_path), storage_key=key, recording_id=cid, channels=0)
            toks = [phones[j] for j in rng.integers(0, 26, max(2, int(dur * 12)))]  # ~12 phones/s
            sup = SupervisionSegment(id=cid, recording_id=cid, start=0, duration=dur, language="en-us",
                                     speaker=f"s{i % 8}", custom={"text_tokens": toks})
            cuts.append(MonoCut(id=cid, start=0, duration=dur, channel=0, recording=rec, features=feats,
                                supervisions=[sup]))
    CutSet.from_cuts(cuts).to_file(d / "cuts_train.jsonl.gz")
    SymbolTable.for_corpus(phones).to_file(d / "unique_text_tokens.k2symbols")
    return d


def train_throughput(steps: int, max_duration: float, num_workers: int = 2) -> dict:
    from valle.bin.train import main

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        durations = libritts_like_durations(400, seed=1)
        data = make_corpus(root, durations)
        exp = root / "exp"
        t0 = time.perf_counter()
        main(["--tokenized-dir", str(data), "--exp-dir", str(exp), "--model-preset", "small", "--device", "cpu",
              "--max-steps", str(steps), "--max-duration", str(max_duration), "--num-workers", str(num_workers),
              "--valid-interval", "0", "--save-every-n", "0", "--tensorboard", "false", "--log-interval", "1000",
              "--num-buckets", "10", "--resume", "none"])
        wall = time.perf_counter() - t0
        recs = [json.loads(l) for l in (exp / "steps.jsonl").read_text().splitlines()]
    timed = recs[1:]  # the first step includes worker start-up
    secs = sum(r["frames"] / r["frames_per_s"] for r in timed)
    return {"model": "d_model 256, 4 heads, 4 layers (small preset), train stage 0, CPU",
            "steps": len(recs), "max_duration": max_duration, "num_workers": num_workers,
            "train_frames_per_s": round(sum(r["frames"] for r in timed) / secs, 1),
            "audio_seconds_per_s": round(sum(r["frames"] for r in timed) / secs * FRAME_SHIFT, 3),
            "wall_seconds_incl_setup": round(wall, 1)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--max-duration", type=float, default=20.0, help="seconds of audio per training batch")
    p.add_argument("--num-workers", type=int, default=2, help="DataLoader workers (0 = load in the main process)")
    p.add_argument("--skip-train", action="store_true", help="only the sampler measurement")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import torch

    from valle.train.options import get_parser

    defaults = get_parser().parse_args([])
    durations = libritts_like_durations(20000)
    out = {
        "duration_distribution": {"n": len(durations), "mean": round(float(durations.mean()), 2),
                                  "p95": round(float(np.percentile(durations, 95)), 2),
                                  "max": round(float(durations.max()), 2)},
        "padding_efficiency": padding_efficiency(durations, defaults.max_duration, defaults.num_buckets,
                                                 defaults.quadratic_duration),
        "padding_efficiency_open_recipe": padding_efficiency(durations, 80, 10, 10),
        "torch_threads": torch.get_num_threads(),
    }
    if not args.skip_train:
        out["training"] = train_throughput(args.steps, args.max_duration, args.num_workers)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
