"""Average the weights of the last checkpoints: ``python -m valle.bin.average --exp-dir exp/x``.

Averaging the last few epochs (or batch checkpoints) smooths the noise of the final updates,
the icefall practice. The output keeps the newest input's config, text symbols and stage, drops
the optimizer/sampler state (it is for synthesis and further --init-from), and is written atomically.
"""
from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import List, Optional

from valle.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from valle.train.provenance import HALVES, read_meta
from valle.utils.atomic import check_output_path
from valle.utils.logging_setup import setup_logging

log = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m valle.bin.average", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--exp-dir", type=Path, default=Path("exp/valle"))
    p.add_argument("--num", type=int, default=3, help="how many of the newest checkpoints to average")
    p.add_argument("--kind", choices=["auto", "epoch", "checkpoint"], default="auto",
                   help="epoch-<n>.pt files, checkpoint-<batch>.pt files, or auto: the newest of either")
    p.add_argument("--checkpoints", type=Path, nargs="+", default=None, help="explicit files (overrides --kind/--num)")
    p.add_argument("--output", type=Path, default=None, help="default: EXP_DIR/averaged-<kind>-last<num>.pt")
    return p


def select(exp_dir: Path, kind: str, num: int) -> List[Path]:
    if kind == "auto":
        return select_after_warmup(exp_dir, num)
    pat = re.compile(rf"^{kind}-(\d+)\.pt$")
    found = sorted((int(m.group(1)), p) for p in Path(exp_dir).glob(f"{kind}-*.pt") if (m := pat.match(p.name)))
    if not found:
        raise FileNotFoundError(f"--exp-dir {exp_dir}: no {kind}-<n>.pt checkpoints to average; train first (run.sh stage 1)")
    return [p for _, p in found[-num:]]


def select_after_warmup(exp_dir: Path, num: int) -> List[Path]:
    """The ``num`` highest-step epoch-<n>.pt / checkpoint-<batch>.pt files of the newest train stage,
    by the step stored inside (one file per step), leaving out weights still in the LR warm-up.

    So the final checkpoint of a run that stopped at --max-steps is included, epoch files of an
    earlier stage in the same dir are not, and warm-up weights are never mixed into the result
    (if every file is in the warm-up, only the newest is used)."""
    found = []
    for p in Path(exp_dir).glob("*.pt"):
        if not re.match(r"^(epoch|checkpoint)-\d+\.pt$", p.name):
            continue
        meta = read_meta(p)
        if "step" in meta:
            found.append((p.stat().st_mtime_ns, int(meta["step"]), meta, p))
    if not found:
        raise FileNotFoundError(f"--exp-dir {exp_dir}: no epoch-<n>.pt or checkpoint-<batch>.pt to average; "
                                "train first (run.sh stage 1)")
    newest_stage = max(found, key=lambda t: (t[0], t[1]))[2].get("train_stage")
    by_step = {}
    for _, step, meta, p in sorted(found, key=lambda t: (t[1], t[0])):
        if meta.get("train_stage") == newest_stage:
            by_step[step] = (meta, p)
    steps = sorted(by_step)
    warmup = int((by_step[steps[-1]][0].get("args") or {}).get("warmup_steps") or 0)
    newest = by_step[steps[-1]][0]
    own = (newest.get("trained_by") or {}).get(HALVES.get(newest_stage, ("ar",))[0], [])
    start = int(own[-1].get("from_step", 0)) if own and own[-1].get("exp_dir") else 0  # this run's first step
    after = [s for s in steps if s - start > warmup]
    if not after:
        log.warning("every checkpoint of %s is still in the LR warm-up (%d steps): using only the newest, %s",
                    exp_dir, warmup, by_step[steps[-1]][1].name)
        after = steps[-1:]
    elif len(after) < len(steps):
        log.info("leaving out %d checkpoint(s) from the LR warm-up (steps <= %d)", len(steps) - len(after),
                 start + warmup)
    return [by_step[s][1] for s in after[-num:]]


def average_checkpoints(paths: List[Path]) -> dict:
    base = None
    total = None
    used: List[Path] = []
    newest_stage = load_checkpoint(paths[-1]).get("train_stage")
    for path in paths:
        ckpt = load_checkpoint(path)
        if ckpt.get("train_stage") != newest_stage:
            log.warning("skipping %s: train stage %s, not the newest file's %s", path, ckpt.get("train_stage"),
                        newest_stage)
            continue
        state = ckpt["model"]
        if total is None:
            total = {k: v.detach().double().clone() if v.is_floating_point() else v.clone() for k, v in state.items()}
        else:
            if set(state) != set(total):
                raise ValueError(f"{path}: its parameters differ from {paths[0]}; average checkpoints of one run")
            for k, v in state.items():
                if v.is_floating_point():
                    total[k] += v.double()
        base = ckpt
        used.append(path)
    n = len(used)
    model = {k: (v / n).to(base["model"][k].dtype) if v.is_floating_point() else v for k, v in total.items()}
    out = {k: base[k] for k in ("model_config", "text_symbols", "train_stage", "trained_stages", "trained_by",
                                "args", "codec") if k in base}
    out["model"] = model
    out["averaged_from"] = [str(p) for p in used]
    return out


def main(argv: Optional[List[str]] = None) -> Path:
    args = get_parser().parse_args(argv)
    setup_logging()
    if args.num < 1:
        raise SystemExit(f"error: --num must be >= 1 (how many checkpoints to average), got {args.num}")
    out_path = args.output or Path(args.exp_dir) / f"averaged-{args.kind}-last{args.num}.pt"
    try:
        check_output_path(out_path, "--output")
        paths = args.checkpoints or select(args.exp_dir, args.kind, args.num)
        ckpt = average_checkpoints(paths)
        save_checkpoint(out_path, **ckpt)
    except (ValueError, FileNotFoundError, CheckpointError) as e:
        raise SystemExit(f"error: {e}")
    log.info("averaged %s -> %s", ", ".join(p.name for p in paths), out_path)
    return out_path


if __name__ == "__main__":
    main()
