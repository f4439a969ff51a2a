"""Manifests -> filtered CutSets -> sampler + DataLoader, with input checks before training.

Every check here runs before the model is built, so bad input (a missing manifest, a filter that
leaves nothing, symbols absent from the table) stops the run in seconds with a message that
names the file or option and the fix.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional, Set

import torch
from lhotse import CutSet, load_manifest

from valle.data.dataset import SpeechCodesDataset
from valle.data.sampler import ResumableSampler, filter_cuts

log = logging.getLogger(__name__)


def resolve_paths(args) -> None:
    d = Path(args.tokenized_dir)
    if args.train_cuts is None:
        args.train_cuts = d / "cuts_train.jsonl.gz"
    if args.valid_cuts is None:
        args.valid_cuts = d / "cuts_dev.jsonl.gz"
    if args.text_symbols is None:
        args.text_symbols = d / "unique_text_tokens.k2symbols"


def load_cuts(path: Path, option: str, args) -> CutSet:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{option} {path}: manifest not found; run prepare.sh (stage 4 writes data/tokenized/cuts_*.jsonl.gz) "
            "or pass --tokenized-dir / " + option
        )
    try:
        cuts = load_manifest(path)
    except Exception as e:
        raise ValueError(f"{option} {path}: cannot read the manifest ({type(e).__name__}: {e})") from e
    if not isinstance(cuts, CutSet):
        raise ValueError(f"{option} {path}: expected a CutSet manifest, got {type(cuts).__name__}")
    if len(cuts) == 0:
        raise ValueError(f"{option} {path}: the CutSet is empty; check prepare.sh's report")
    return filter_cuts(cuts, args.filter_min_duration, args.filter_max_duration, f"{option} {path}")


def used_symbols(cuts: CutSet) -> List[str]:
    seen: Set[str] = set()
    for cut in cuts:
        for sup in cut.supervisions:
            seen.update((sup.custom or {}).get("text_tokens", []))
    return sorted(seen)


def check_symbols(cuts: CutSet, table, where: str) -> None:
    missing = [s for s in used_symbols(cuts) if s not in table]
    if missing:
        raise ValueError(
            f"{where}: the cuts use {len(missing)} text symbol(s) missing from the symbol table: "
            f"{' '.join(missing[:40])}; rerun prepare.sh stage 2 so the table covers the data"
        )


def make_dataset(cuts: CutSet, table, cfg, args) -> SpeechCodesDataset:
    """The dataset of one split (train or valid): prefix mode 4 and --concat-prompt draw their
    same-speaker prompts from the split's own cuts."""
    pooled = cfg.prefix_mode == 4 or args.concat_prompt
    return SpeechCodesDataset(
        table, num_languages=max(cfg.num_languages, 1), prompt_cuts=cuts if pooled else None,
        concat_prompt=args.concat_prompt, prompt_max_frames=args.prompt_max_frames,
        num_quantizers=cfg.num_quantizers, seed=args.seed)


def make_sampler(cuts: CutSet, args, world_size: int, rank: int, shuffle: Optional[bool] = None) -> ResumableSampler:
    return ResumableSampler(
        cuts, max_duration=args.max_duration, num_buckets=args.num_buckets,
        quadratic_duration=args.quadratic_duration,
        shuffle=args.shuffle if shuffle is None else shuffle, drop_last=args.drop_last,
        buffer_size=args.buffer_size, shuffle_buffer_size=args.shuffle_buffer_size,
        num_cuts_for_bins_estimate=args.num_cuts_for_bins_estimate, seed=args.seed,
        world_size=world_size, rank=rank,
    )


def make_loader(dataset: SpeechCodesDataset, sampler, num_workers: int, seed: int) -> torch.utils.data.DataLoader:
    """Worker processes load features; the own generator keeps DataLoader start-up off the global RNG."""
    return torch.utils.data.DataLoader(
        dataset, sampler=sampler, batch_size=None, num_workers=num_workers,
        persistent_workers=False, generator=torch.Generator().manual_seed(seed),
    )
