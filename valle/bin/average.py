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

import torch

from valle.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from valle.utils.atomic import check_output_path

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
        # Epoch files if there are any, else batch checkpoints; newest by time, because a run that
        # switched --train-stage in the same dir may leave older, higher-numbered files behind.
        for k in ("epoch", "checkpoint"):
            files = list(Path(exp_dir).glob(f"{k}-*.pt"))
            if files:
                return sorted(files, key=lambda p: p.stat().st_mtime_ns)[-num:]
        raise FileNotFoundError(f"--exp-dir {exp_dir}: no epoch-<n>.pt or checkpoint-<batch>.pt to average; "
                                "train first (run.sh stage 1)")
    pat = re.compile(rf"^{kind}-(\d+)\.pt$")
    found = sorted((int(m.group(1)), p) for p in Path(exp_dir).glob(f"{kind}-*.pt") if (m := pat.match(p.name)))
    if not found:
        raise FileNotFoundError(f"--exp-dir {exp_dir}: no {kind}-<n>.pt checkpoints to average; train first (run.sh stage 1)")
    return [p for _, p in found[-num:]]


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
    out = {k: base[k] for k in ("model_config", "text_symbols", "train_stage", "trained_stages", "args") if k in base}
    out["model"] = model
    out["averaged_from"] = [str(p) for p in used]
    return out


def main(argv: Optional[List[str]] = None) -> Path:
    args = get_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
