"""Where paper-grade scoring weights are looked for; nothing here downloads.

A backend gets an explicit ``path`` (file or directory) or falls back to the cache its library
would have filled on a machine with network (torch hub ``checkpoints/``, the Hugging Face hub
cache).  Missing weights raise ``BackendUnavailable`` naming the path tried.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional


def torch_hub_checkpoint(filename: str) -> Path:
    """``$TORCH_HOME/hub/checkpoints/<filename>``, where torch.hub.load_state_dict_from_url caches."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def hf_hub_snapshot(repo_id: str) -> Optional[Path]:
    """The newest local snapshot directory of a Hugging Face model repo, or ``None``."""
    home = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub")
    snapshots = home / ("models--" + repo_id.replace("/", "--")) / "snapshots"
    if not snapshots.is_dir():
        return None
    found = sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None
