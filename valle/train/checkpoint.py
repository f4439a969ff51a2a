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

import contextlib
import errno
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


@contextlib.contextmanager
def forked_rng(seed: int):
    """Run the body with a fixed seed and restore every RNG afterwards (validation, samples)."""
    state = get_rng_state()
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    try:
        yield
    finally:
        set_rng_state(state)


# -- save / load --------------------------------------------------------------------------
def save_checkpoint(path: Path, **fields: Any) -> Path:
    """Write ``fields`` (model, model_config, text_symbols, train_stage, optimizer, ...) atomically."""
    path = Path(path)
    try:
        atomic_torch_save(dict(fields), path)
    except (OSError, RuntimeError) as e:
        raise write_failure(path, e) from e
    log.info("saved checkpoint %s (%s)", path, describe_size(path))
    return path


_NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def write_failure(path: Path, e: BaseException) -> BaseException:
    """A CheckpointError saying "disk full" for a write cut short by space, else ``e`` unchanged.

    torch reports a short write as ``RuntimeError: ... unexpected pos`` / ``file write failed``, which
    hides the cause; the atomic writer has already removed the temporary file, so older checkpoints
    are untouched.
    """
    text = str(e)
    if getattr(e, "errno", None) in _NO_SPACE or "unexpected pos" in text or "write failed" in text:
        return CheckpointError(
            f"cannot write checkpoint {path}: disk full (or a file size/quota limit; {type(e).__name__}: "
            f"{text.splitlines()[0][:160] if text else ''}); the previous checkpoints are kept. Free space in "
            f"{path.parent} and rerun with --resume auto"
        )
    return e


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
        if m and p.is_file():  # a FIFO or device named like a checkpoint is never opened (a read would hang)
            found.append((p.stat().st_mtime_ns, int(m.group(1)), p))
    found.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [p for _, _, p in found]


def batch_number(path: Path) -> Optional[int]:
    """The <batch> of a ``checkpoint-<batch>.pt`` file name; None for any other name (``epoch-<n>.pt``, bests)."""
    m = _BATCH_RE.match(Path(path).name)
    return int(m.group(1)) if m else None


def stored_step(path: Path) -> Optional[int]:
    """The optimizer step recorded inside a checkpoint (read memory-mapped), or None if unreadable/absent."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # truncated zip, foreign pickle, ...
        log.warning("checkpoint %s cannot be read (%s: %s); falling back to the previous checkpoint",
                    path, type(e).__name__, str(e).splitlines()[0][:200] if str(e) else "")
        return None
    step = ckpt.get("step") if isinstance(ckpt, dict) else None
    if step is None:
        log.warning("checkpoint %s has no training state; skipping it for resume", path)
    return None if step is None else int(step)


def load_latest(exp_dir: Path) -> Tuple[Optional[Path], Optional[Dict[str, Any]]]:
    """The readable training checkpoint in ``exp_dir`` with the highest stored step; skips (and logs) bad ones.

    The step inside the file decides, not the file time: ``cp -r`` of an experiment folder gives every
    file a new, arbitrary mtime. Ties (an epoch file and a batch file of one step) go to the newer file.
    """
    by_step = []
    for rank, path in enumerate(list_checkpoints(exp_dir)):  # newest file first
        step = stored_step(path)
        if step is not None:
            by_step.append((-step, rank, path))
    for _, _, path in sorted(by_step):
        try:
            return path, load_checkpoint(path)
        except CheckpointError as e:
            log.warning("%s; falling back to the previous checkpoint", e)
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
