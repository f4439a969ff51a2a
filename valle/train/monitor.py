"""What a run reports: the progress line, ``steps.jsonl``, TensorBoard scalars and validation audio.

The console line and TensorBoard's ``train/*`` scalars show the same quantity: the mean over the
``--log-interval`` steps since the last line (the lr is the current one).
``steps.jsonl`` has one line per optimizer step (loss, accuracies, lr, grad norm, frames) at full
precision: the resume test compares it between runs, and it is easy to plot without
TensorBoard. On resume it is cut back to the checkpoint's step so it never holds steps twice.
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch

from valle.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)

METRICS = ("loss", "ar_loss", "nar_loss", "ar_top10_acc", "nar_top10_acc", "guided_attention_loss")


def _fmt_eta(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def json_line(rec: Dict) -> str:
    """One JSON object; NaN/inf (a diverged step) become null, since bare NaN is not JSON."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}
    return json.dumps(clean, allow_nan=False)


class Monitor:
    def __init__(self, exp_dir: Path, args, is_main: bool, train_cuts, world_size: int):
        self.exp_dir = Path(exp_dir)
        self.args = args
        self.is_main = is_main
        self.world_size = world_size
        total_seconds = sum(c.duration for c in train_cuts)
        # Rough batches per epoch for the ETA: buckets fill batches to ~90 % of --max-duration.
        self.batches_per_epoch = max(1, math.ceil(
            total_seconds / (0.9 * args.max_duration * world_size * max(1, args.accumulate_grad_steps))))
        self.writer = None
        if is_main and args.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(log_dir=str(self.exp_dir / "tensorboard"))
            except ImportError as e:  # tensorboard is in INSTALL_REQUIRES; say so if it is gone
                log.warning("TensorBoard disabled: %s (pip install tensorboard)", e)
        self.steps_path = self.exp_dir / "steps.jsonl"
        self.valid_path = self.exp_dir / "valid.jsonl"
        self.last_time = time.perf_counter()
        self.start_time = self.last_time
        self.start_cpu = time.process_time()
        self.start_step: Optional[int] = None
        self.window: List[Dict[str, float]] = []
        self.synth_failed = False

    def truncate_history(self, step: int) -> None:
        """Drop the lines of ``steps.jsonl`` and ``valid.jsonl`` after ``step`` (a resumed run rewrites them)."""
        for path in (self.steps_path, self.valid_path):
            if not path.is_file():
                continue
            keep = []
            for line in path.read_text().splitlines():
                try:
                    if json.loads(line)["step"] <= step:
                        keep.append(line)
                except (ValueError, KeyError):
                    break  # a line cut by the kill: drop it and everything after
            atomic_write_text(path, "".join(l + "\n" for l in keep))

    def log_step(self, step: int, epoch: int, stats: List[Tuple[dict, int]], grad_norm: float, lr: float,
                 device: torch.device) -> dict:
        """Average the micro-batches (and ranks) of one optimizer step; write the line and progress.
        Returns the step's record (the same on every rank)."""
        vals, cnts = [], []
        for k in METRICS:
            xs = [float(torch.as_tensor(o[k]).detach()) for o, _ in stats if k in o]
            vals.append(sum(xs))
            cnts.append(len(xs))
        frames = sum(n for _, n in stats)
        t = torch.tensor(vals + cnts + [frames], dtype=torch.float64, device=device)
        if self.world_size > 1:
            torch.distributed.all_reduce(t)
        t = t.tolist()
        n = len(METRICS)
        rec = {"step": step, "epoch": epoch}
        for i, k in enumerate(METRICS):
            if t[n + i] > 0:
                rec[k] = t[i] / t[n + i]
        rec.update(lr=lr, grad_norm=grad_norm, frames=int(t[-1]))
        now = time.perf_counter()
        rec["frames_per_s"] = rec["frames"] / max(now - self.last_time, 1e-9)
        self.last_time = now
        if self.start_step is None:
            self.start_step = step - 1
        if not self.is_main:
            return rec
        with open(self.steps_path, "a") as f:
            f.write(json_line(rec) + "\n")
        self.window.append(rec)
        if step % max(1, self.args.log_interval) == 0:
            self._progress(step, epoch)
        return rec

    def _progress(self, step: int, epoch: int) -> None:
        w = self.window
        self.window = []
        def mean(k):
            return sum(r[k] for r in w if k in r) / max(1, sum(1 for r in w if k in r))
        elapsed = time.perf_counter() - self.start_time
        done = max(1, step - (self.start_step or 0))
        per_step = elapsed / done
        if self.args.max_steps:
            remaining = self.args.max_steps - step
        else:
            remaining = (self.args.num_epochs - epoch + 1) * self.batches_per_epoch - \
                (step % self.batches_per_epoch)
        eta = per_step * max(remaining, 0)
        budget = getattr(self.args, "max_cpu_seconds", 0) or 0
        if budget:  # --max-cpu-seconds ends the run when it comes first: wall time per CPU second spent
            cpu = max(time.process_time() - self.start_cpu, 1e-9)
            eta = min(eta, max(budget - cpu, 0.0) * elapsed / cpu)
        fps = sum(r["frames"] for r in w) / max(sum(r["frames"] / max(r["frames_per_s"], 1e-9) for r in w), 1e-9)
        acc = " ".join(f"{k.split('_')[0]}_acc {mean(k):.3f}" for k in ("ar_top10_acc", "nar_top10_acc")
                       if any(k in r for r in w))
        log.info("epoch %d step %d | loss %.4f | %s | lr %.3g | grad %.3g | %.0f frames/s | ETA ~%s",
                 epoch, step, mean("loss"), acc, w[-1]["lr"], mean("grad_norm"), fps, _fmt_eta(eta))
        if self.writer is not None:  # the same quantities as the console line: means over the window
            for k in METRICS + ("grad_norm",):
                if any(k in r for r in w):
                    self.writer.add_scalar(f"train/{k}", mean(k), step)
            self.writer.add_scalar("train/lr", w[-1]["lr"], step)
            self.writer.add_scalar("train/frames_per_s", fps, step)

    def log_valid(self, step: int, epoch: int, res: Dict[str, float]) -> None:
        if not self.is_main or not res:
            return
        log.info("validation epoch %d step %d: %s", epoch, step,
                 ", ".join(f"{k} {v:.4f}" for k, v in res.items()))
        with open(self.valid_path, "a") as f:
            f.write(json_line({"step": step, "epoch": epoch, **res}) + "\n")
        if self.writer is not None:
            for k, v in res.items():
                self.writer.add_scalar(f"valid/{k}", v, step)

    def synthesize_valid_cut(self, model, text_symbols, valid_cuts, step: int) -> None:
        """Audio + spectrogram of one validation cut, when ``valle.infer`` and a codec are usable."""
        if self.writer is None or self.synth_failed or valid_cuts is None:
            return
        try:
            from valle.train.valid_synthesis import synthesize_valid_cut

            wav, image, rate = synthesize_valid_cut(model, text_symbols, valid_cuts, self.args)
        except Exception as e:  # optional feature: report once, keep training
            self.synth_failed = True
            log.warning("validation audio disabled: %s", str(e).splitlines()[0] if str(e) else type(e).__name__)
            return
        self.writer.add_audio("valid/audio", wav.unsqueeze(0), step, sample_rate=rate)
        self.writer.add_image("valid/spectrogram", image, step, dataformats="HW")

    def evaluate_dev(self, model, text_symbols, valid_cuts, step: int) -> None:
        """``--eval-every``: dev WER/similarity to TensorBoard (valle.eval.during_training)."""
        if valid_cuts is None or getattr(self, "eval_failed", False):
            return
        try:
            from valle.eval.during_training import evaluate_dev_sentences

            evaluate_dev_sentences(model, text_symbols, valid_cuts, self.args, step, self.writer)
        except Exception as e:  # optional feature: report once, keep training
            self.eval_failed = True
            log.warning("--eval-every disabled: %s", str(e).splitlines()[0] if str(e) else type(e).__name__)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
