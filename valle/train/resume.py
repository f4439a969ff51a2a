"""Where a run continues from: ``--resume auto|none|PATH`` and what Ctrl-C leaves behind.

``auto`` takes the newest readable checkpoint of ``--exp-dir`` (``checkpoint.load_latest`` skips
a truncated file, naming it); when the folder holds checkpoints but none can be read, the run
stops instead of starting over on top of them.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Tuple

from valle.train import checkpoint as ckpt_io, provenance

log = logging.getLogger(__name__)


def resume_path(args) -> Optional[Path]:
    """The file ``--resume`` names: auto = newest readable in --exp-dir, none = fresh start."""
    r = str(args.resume)
    if r == "none":
        return None
    if r == "auto":
        return Path("auto")
    p = Path(r)
    if not p.is_file():
        raise FileNotFoundError(f"--resume {p}: file not found (use auto or none)")
    return p


def find_resume(args, exp_dir: Path) -> Tuple[Optional[dict], Optional[Path]]:
    """(checkpoint dict, its path) to resume from, or (None, None) for a fresh start."""
    p = resume_path(args)
    if p is None:
        return None, None
    if str(p) == "auto":
        path, ckpt = ckpt_io.load_latest(exp_dir)
        if path is not None:
            log.info("resuming from %s (step %s)", path, ckpt["step"])
        elif ckpt_io.list_checkpoints(exp_dir):
            # Starting over here would overwrite the run's checkpoints and steps.jsonl.
            found = ckpt_io.list_checkpoints(exp_dir)
            raise ValueError(
                f"--resume auto: none of the {len(found)} checkpoint(s) in {exp_dir} can be resumed from "
                f"({', '.join(p.name for p in found[:6])}{' ...' if len(found) > 6 else ''}; see the warnings "
                "above). Pass --resume PATH, or move them away and pass --resume none to start over"
            )
        return ckpt, path
    ckpt = ckpt_io.load_checkpoint(p)
    if "step" not in ckpt:
        raise ValueError(f"--resume {p}: not a training checkpoint (no step/optimizer); use --init-from")
    return ckpt, p


def check_no_other_run(exp_dir: Path, ckpt: Optional[dict], resumed_from: Optional[Path]) -> None:
    """Refuse to start where another run's checkpoints would outlive this run's: a fresh start (``--resume
    none``) in a folder that holds checkpoints, or a resume from a step below checkpoints already there.
    ``--keep-last-k`` keeps the highest-numbered files, so it would delete each new save at once, and a later
    ``--resume auto`` would continue the other run (steps.jsonl would mix the two)."""
    found = ckpt_io.list_checkpoints(exp_dir)
    if ckpt is None:
        later = found
        start = "starts over (--resume none)"
    else:
        step = int(ckpt["step"])
        later = [p for p in found if (ckpt_io.batch_number(p) or 0) > step
                 and "step" in provenance.read_meta(p)]  # a truncated newer file is what auto skipped, not a run
        start = f"resumes from {resumed_from} (step {step})"
    if later:
        names = ", ".join(p.name for p in sorted(later)[:6]) + (" ..." if len(later) > 6 else "")
        raise ValueError(f"this run {start} in --exp-dir {exp_dir}, which holds checkpoint(s) of later steps "
                         f"({names}): --keep-last-k would delete this run's saves in favour of them and --resume auto "
                         "would continue from them. Pass another --exp-dir, or move those files away")


def interrupted_hint(exp_dir: Path, step: int) -> str:
    """What Ctrl-C leaves behind: the checkpoint a rerun resumes from and the steps it loses."""
    steps = [(int(m["step"]), p) for p in ckpt_io.list_checkpoints(exp_dir)
             if "step" in (m := provenance.read_meta(p))]  # mmap: no weights read
    if not steps:
        return (f"interrupted at step {step}: no checkpoint in {exp_dir} yet; rerunning the same command "
                "starts over")
    saved, path = max(steps)
    return (f"interrupted at step {step}: rerun the same command to resume from {path} (step {saved}; "
            f"{max(step - saved, 0)} step(s) since that save are lost; --save-every-n saves more often)")
