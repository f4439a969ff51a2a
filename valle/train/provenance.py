"""What trained each half of a checkpoint: ``trained_by = {"ar": [...], "nar": [...]}``.

Every checkpoint valle writes records, per half, the list of trainings that produced its weights,
oldest first. An entry is ``{"by": "valle.bin.train --train-stage 1", "exp_dir": ..., "from_step":
N, "to_step": M}`` for our runs, or ``{"by": "pretrained weights", "file": PATH}`` for a
published / lifeiteng file used with ``--init-from``. An empty list means the half still holds
its random initialisation: synthesis refuses such an AR (``valle.infer.model_loading``), and
training the NAR alone on top of it warns (the NAR can be trained apart, but the file cannot
speak until an AR is trained).

Checkpoints written before this field existed are read through ``trained_stages`` and
``args.init_from`` (``legacy_trained_by``).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Dict, List, Optional

import torch

HALVES = {0: ("ar", "nar"), 1: ("ar",), 2: ("nar",)}


def read_meta(path) -> dict:
    """The top-level entries of a checkpoint except the tensors (``mmap``: weights are not read)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return {}
    if not isinstance(obj, dict):
        return {}
    return {k: v for k, v in obj.items() if k not in ("model", "optimizer", "scaler", "rng")}


def legacy_trained_by(meta: dict, path: str) -> Dict[str, List[dict]]:
    """``trained_by`` of a checkpoint that has none: from ``trained_stages`` / ``init_from``."""
    if "model_config" not in meta:  # published or lifeiteng weights: both halves are trained
        entry = {"by": "pretrained weights", "file": str(path)}
        return {"ar": [dict(entry)], "nar": [dict(entry)]}
    args = meta.get("args") if isinstance(meta.get("args"), dict) else {}
    stages = meta.get("trained_stages")
    if stages is None:
        stages = [meta["train_stage"]] if meta.get("train_stage") is not None else None
    out: Dict[str, List[dict]] = {"ar": [], "nar": []}
    if args.get("init_from") or stages is None:  # unknown history: trust the file
        out = {h: [{"by": "unrecorded (older checkpoint)", "file": str(path)}] for h in out}
    for s in stages or []:
        for h in HALVES.get(int(s), ()):
            if not out[h]:
                out[h].append({"by": f"valle.bin.train --train-stage {int(s)}", "file": str(path)})
    return out


def trained_by_of(meta: dict, path) -> Dict[str, List[dict]]:
    tb = meta.get("trained_by")
    if isinstance(tb, dict) and "ar" in tb and "nar" in tb:
        return {"ar": list(tb["ar"]), "nar": list(tb["nar"])}
    return legacy_trained_by(meta, str(path))


def untrained_halves(path) -> List[str]:
    """"ar" / "nar" halves of ``path`` that no training ever touched ([] when unknown)."""
    meta = read_meta(path)
    if not meta:
        return []
    tb = trained_by_of(meta, path)
    return [h for h in ("ar", "nar") if not tb[h]]


def stamp(base: Dict[str, List[dict]], train_stage: int, exp_dir, from_step: int, to_step: int
          ) -> Dict[str, List[dict]]:
    """``base`` plus this run's entry for the halves ``train_stage`` trains (replacing an earlier
    entry of the same run, so a resumed run keeps one entry)."""
    out = copy.deepcopy(base)
    entry = {"by": f"valle.bin.train --train-stage {train_stage}", "exp_dir": str(exp_dir),
             "from_step": int(from_step), "to_step": int(to_step)}
    for h in HALVES[train_stage]:
        same_run = [e for e in out[h] if e.get("by") == entry["by"] and e.get("exp_dir") == entry["exp_dir"]
                    and e.get("from_step") == entry["from_step"]]
        out[h] = [e for e in out[h] if e not in same_run] + [entry]
    return out


def describe(tb: Dict[str, List[dict]]) -> str:
    """One line: what trained each half."""
    def one(entries):
        if not entries:
            return "never trained (random initialisation)"
        return " then ".join(e.get("by", "?") + (f" in {e['exp_dir']}" if e.get("exp_dir") else
                                                 f" ({e['file']})" if e.get("file") else "")
                             for e in entries)
    return f"AR: {one(tb['ar'])}; NAR: {one(tb['nar'])}"


def start_of_run(init_meta: Optional[dict], init_path) -> Dict[str, List[dict]]:
    """The history a fresh run (no resume) starts from: empty, or that of ``--init-from``."""
    if init_meta is None:
        return {"ar": [], "nar": []}
    return trained_by_of(init_meta, Path(init_path))
