"""Training checkpoints: atomic save, weights_only load, RNG capture, keep-last-k, fallback.

A checkpoint is a plain dict (see docs/interfaces.md) holding only tensors, numbers, strings,
lists and dicts, so ``torch.load(path, weights_only=True)`` reads it and loading a file never
runs code. It carries everything needed to continue a run bit-for-bit on CPU: model, optimizer,
schedule, grad scaler, the sampler position and every RNG state (torch, CUDA, numpy, python).

Files are written with ``atomic_torch_save``, so a crash leaves either the old or the new file.
A file can still be truncated by a full disk or a copy; ``load_latest`` then names the bad file
and falls back to the previous good one instead of refusing to resume.
"""
from __future__ import annotations

import logging
import random
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from valle.utils.atomic import atomic_torch_save

log = logging.getLogger(__name__)

_BATCH_RE = re.compile(r"^checkpoint-(\d+)\.pt$")
_EPOCH_RE = re.compile(r"^epoch-(\d+)\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used; the message names the file and why."""


# -- RNG ----------------------------------------------------------------------------------
def get_rng_state() -> Dict[str, Any]:
    """Every RNG the training step may draw from, as weights_only-safe values."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": py_state[0], "state": list(py_state[1]), "gauss": py_state[2]},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- save / load --------------------------------------------------------------------------
def save_checkpoint(path: Path, **fields: Any) -> Path:
    """Write ``fields`` (model, model_config, text_symbols, train_stage, optimizer, ...) atomically."""
    path = Path(path)
    atomic_torch_save(dict(fields), path)
    log.info("saved checkpoint %s (%s)", path, describe_size(path))
    return path


def load_checkpoint(path: Path, map_location: str = "cpu") -> Dict[str, Any]:
    """Load a checkpoint with weights_only=True; a missing or unreadable file raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist: check --resume / --init-from / --exp-dir")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, foreign pickle, ...
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
            "it may be truncated or not a torch checkpoint: delete it or point to another file"
        ) from e
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise CheckpointError(f"checkpoint {path} has no 'model' entry: not a valle checkpoint")
    return ckpt


def list_checkpoints(exp_dir: Path) -> List[Path]:
    """Training checkpoints in ``exp_dir``, newest first (by modification time, then by number)."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        return []
    found = []
    for p in exp_dir.iterdir():
        m = _BATCH_RE.match(p.name) or _EPOCH_RE.match(p.name)
        if m:
            found.append((p.stat().st_mtime_ns, int(m.group(1)), p))
    found.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [p for _, _, p in found]


def load_latest(exp_dir: Path) -> Tuple[Optional[Path], Optional[Dict[str, Any]]]:
    """Newest readable training checkpoint in ``exp_dir``; skips (and logs) unreadable ones."""
    for path in list_checkpoints(exp_dir):
        try:
            ckpt = load_checkpoint(path)
        except CheckpointError as e:
            log.warning("%s; falling back to the previous checkpoint", e)
            continue
        if "step" not in ckpt:
            log.warning("checkpoint %s has no training state; skipping it for resume", path)
            continue
        return path, ckpt
    return None, None


def remove_old_checkpoints(exp_dir: Path, keep_last_k: int) -> List[Path]:
    """Keep the ``keep_last_k`` highest-numbered ``checkpoint-<batch>.pt`` and, separately, the
    ``keep_last_k`` highest ``epoch-<n>.pt`` files (0 keeps all). Each holds weights and optimizer
    state (about 2.7 GB for the 370 M model), so a 100-epoch run would otherwise fill a disk;
    ``valle.bin.average --num N`` needs N <= ``keep_last_k`` of them."""
    if keep_last_k <= 0:
        return []
    removed = []
    for pattern in (_BATCH_RE, _EPOCH_RE):
        numbered = sorted((int(m.group(1)), p) for p in Path(exp_dir).iterdir() if (m := pattern.match(p.name)))
        for _, p in numbered[:-keep_last_k]:
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def describe_size(path: Path) -> str:
    """``1.23 GB`` / ``45.6 MB``: what one checkpoint file costs on disk."""
    n = Path(path).stat().st_size
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def args_to_dict(args) -> Dict[str, Any]:
    """argparse Namespace -> dict of weights_only-safe values (paths become strings)."""
    out = {}
    for k, v in vars(args).items():
        if isinstance(v, Path):
            v = str(v)
        elif isinstance(v, (list, tuple)):
            v = [str(x) if isinstance(x, Path) else x for x in v]
        elif not isinstance(v, (int, float, str, bool, type(None), dict)):
            v = str(v)
        out[k] = v
    return out
