"""The training loop in icefall's vocabulary: ``run``, ``Trainer.fit``, ``train_one_epoch``.

``Trainer.prepare`` reads top to bottom, one ``_setup_*`` step per concern (data, resume, model,
optimizer, loaders, state, wrapping, outputs); the forward pass is ``valle.train.forward`` and
validation ``valle.train.validation``. ``train_one_epoch`` returns a ``StopReason`` when a limit
ends the run, None when its epoch ends.

Exactness on CPU is a design goal: the batch order is a function of (seed, epoch) and resume
skips the consumed batches (``ResumableSampler``); every RNG state is stored at each checkpoint
and restored before the next batch; validation runs inside a forked RNG so it never shifts the
training draws (dropout, the NAR codebook draw). A resumed run therefore reproduces the
per-step losses of an uninterrupted one; ``<exp-dir>/steps.jsonl`` records them.
"""
from __future__ import annotations

import contextlib
import enum
import logging
import math
import os
import random
import shutil
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
from lhotse import load_manifest

from valle.data.dataset import batch_frames
from valle.models.checkpoint_import import describe_architecture
from valle.text.symbol_table import SymbolTable
from valle.train import checkpoint as ckpt_io, exp_lock, provenance
from valle.train.build import (
    build_config, build_model, build_optimizer, build_scaler, build_scheduler,
    init_distributed, pick_device, schedule_warnings,
)
from valle.train.data_codec import data_codec_facts
from valle.train.forward import compute_loss
from valle.train.loaders import (
    check_symbols, load_cuts, make_dataset, make_loader, make_sampler, resolve_paths, used_symbols,
)
from valle.train.monitor import Monitor
from valle.train.optim import ScaledAdam
from valle.train.options import save_effective_config
from valle.train.schedulers import BudgetCosine
from valle.train.trainable import select_trainable, trainable_report
from valle.train.resume import check_no_other_run, find_resume, interrupted_hint
from valle.train.validation import validate
from valle.utils.atomic import atomic_path
from valle.utils.precision import resolve_dtype

log = logging.getLogger(__name__)


class TrainingStopped(RuntimeError):
    """Training cannot continue (too many inf/NaN batches in a row)."""


class StopReason(enum.Enum):
    """Why ``train_one_epoch`` returned before its sampler ran out (None: the epoch ended). The
    value is the option that asked for it."""

    MAX_STEPS = "--max-steps"
    LOSS_TARGET = "--stop-at-loss"
    CPU_BUDGET = "--max-cpu-seconds"
    EARLY_STOP = "--early-stop-patience"

    @property
    def saves_checkpoint(self) -> bool:
        """A run cut short by a limit ends with checkpoint-<step>.pt; an early stop keeps what validation saved."""
        return self is not StopReason.EARLY_STOP


def _all_reduce(values, device, world_size: int):
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if world_size > 1:
        torch.distributed.all_reduce(t)
    return t.tolist()


class Trainer:
    """State of one run; ``fit()`` runs the epochs."""

    def __init__(self, args):
        self.args = args
        self.rank, self.world_size, local_rank = init_distributed()
        self.device = pick_device(args.device, local_rank)
        args.dtype = resolve_dtype(args.dtype, self.device)  # "auto" -> the concrete dtype, logged with why
        self.is_main = self.rank == 0
        self.exp_dir = Path(args.exp_dir)
        # --max-cpu-seconds: the process CPU time training started at (fit sets it), the seconds a killed run of
        # the same budget had spent by the checkpoint this run resumes, and whether the budget ended the run
        self.cpu_start: Optional[float] = None
        self.cpu_carried = 0.0
        self.budget_done = False
        self.prepare()

    # -- set-up: each step reads what the ones above it set ------------------------------------
    def prepare(self) -> None:
        self._setup_data()
        ckpt = self._setup_resume()
        self._setup_model(ckpt)
        self._setup_optimizer()
        self._setup_loaders()
        self._setup_state(ckpt)
        self._wrap_model()
        self._setup_outputs()
        if ckpt is not None and not self.switching:
            ckpt_io.set_rng_state(self._rank_rng(ckpt))

    def _setup_data(self) -> None:
        """Seeds, the train and valid manifests (valid may be absent or empty) and the data's symbol table."""
        args = self.args
        resolve_paths(args)
        torch.manual_seed(args.seed)
        random.seed(args.seed)
        np.random.seed(args.seed)
        self.train_cuts = load_cuts(args.train_cuts, "--train-cuts", args)
        self.data_symbols = SymbolTable.from_file(args.text_symbols)
        self.valid_cuts = None
        if Path(args.valid_cuts).is_file() and len(load_manifest(args.valid_cuts)) == 0:
            log.warning("validation manifest %s is empty (a tiny corpus): validation is skipped", args.valid_cuts)
        elif Path(args.valid_cuts).is_file():
            self.valid_cuts = load_cuts(args.valid_cuts, "--valid-cuts", args)
        else:
            log.warning("no validation manifest %s: validation is skipped", args.valid_cuts)
        check_symbols(self.train_cuts, self.data_symbols, f"--train-cuts {args.train_cuts}")
        self.codec_facts = data_codec_facts(args.train_cuts, self.train_cuts, self.valid_cuts)
        args.codec = self.codec_facts["codec"]  # the TensorBoard validation audio decodes with the data's codec

    def _setup_resume(self) -> Optional[dict]:
        """The checkpoint this run continues (``valle.train.resume``), or None; ``switching``: it
        trained the other stage, so only its weights carry over."""
        args = self.args
        ckpt, self.resumed_from = find_resume(args, self.exp_dir)
        check_no_other_run(self.exp_dir, ckpt, self.resumed_from)
        if ckpt is not None and args.init_from is not None:
            log.warning("resuming from %s: --init-from %s is ignored (pass --resume none and another --exp-dir to "
                        "start from it)", self.resumed_from, args.init_from)
        self.switching = ckpt is not None and int(ckpt.get("train_stage", args.train_stage)) != args.train_stage
        self.new_run = ckpt is None or self.switching
        if self.switching and self.is_main:
            self._keep_other_stage_best()
        return ckpt

    def _keep_other_stage_best(self) -> None:
        """A stage switch in one --exp-dir: this stage's validation rewrites best-valid-loss.pt, so the other
        stage's best is kept first as best-valid-loss-stage<N>.pt (a hard link: no copy of the weights)."""
        best = self.exp_dir / "best-valid-loss.pt"
        stage = provenance.read_meta(best).get("train_stage") if best.is_file() else None
        if stage is None or int(stage) == self.args.train_stage:
            return
        kept = self.exp_dir / f"best-valid-loss-stage{int(stage)}.pt"
        if kept.exists() and os.path.samefile(kept, best):
            return
        with atomic_path(kept) as tmp:  # replaces an older kept best (stages 1, 2, then 1 and 2 again)
            tmp.unlink()
            try:
                os.link(best, tmp)
            except OSError:
                shutil.copy2(best, tmp)
        log.info("stage %d's best checkpoint kept as %s (this stage's validation writes %s)", int(stage), kept, best)

    def _setup_model(self, ckpt: Optional[dict]) -> None:
        """Config, text symbols and weights (resume, --init-from or fresh), then the trainable parameters."""
        args = self.args
        cfg, state, symbols, _ = build_config(args, ckpt, self.data_symbols, used_symbols(self.train_cuts),
                                              codec=str(self.codec_facts["codec"]), ckpt_path=self.resumed_from,
                                              switching=self.switching)
        self.config, self.text_symbols = cfg, symbols
        self.table = SymbolTable(symbols)
        check_symbols(self.train_cuts, self.table, f"--train-cuts {args.train_cuts}")
        self.model = build_model(cfg, state, args, from_resume=ckpt is not None).to(self.device)
        select_trainable(self.model, args.train_stage, args.trainable, args.freeze)
        if self.is_main:
            log.info("model %s, train stage %d; trainable parameters:\n%s", describe_architecture(cfg, self.model),
                     args.train_stage, trainable_report(self.model))

    def _setup_optimizer(self) -> None:
        args = self.args
        self.optimizer = build_optimizer([p for p in self.model.parameters() if p.requires_grad], args)
        self.scheduler = build_scheduler(self.optimizer, args)
        for line in schedule_warnings(args) if self.is_main else []:
            log.warning(line)
        self.scaler = build_scaler(args, self.device)

    def _setup_loaders(self) -> None:
        """The train dataset and its resumable sampler; the valid loader (None without a dev set)."""
        args = self.args
        self.dataset = make_dataset(self.train_cuts, self.table, self.config, args)
        self.sampler = make_sampler(self.train_cuts, args, self.world_size, self.rank)
        self.valid_loader = None
        if self.valid_cuts is not None:
            check_symbols(self.valid_cuts, self.table, f"--valid-cuts {args.valid_cuts}")
            valid_sampler = make_sampler(self.valid_cuts, args, self.world_size, self.rank, shuffle=False)
            self.valid_loader = make_loader(make_dataset(self.valid_cuts, self.table, self.config, args),
                                            valid_sampler, 0, args.seed)

    def _setup_state(self, ckpt: Optional[dict]) -> None:
        """Step, epoch and the run's history; a resume also restores optimizer, schedule and sampler."""
        args = self.args
        self.step, self.epoch = 0, 1
        self.trained_stages = sorted({args.train_stage})
        self._start_history(ckpt, self.switching)
        self.best_valid, self.bad_valids = math.inf, 0
        self.last_valid: Optional[tuple] = None  # (step, result) of the newest validation: a step is validated once
        self.recent_losses = []  # --stop-at-loss
        if ckpt is None:
            return
        self.step = int(ckpt["step"])
        self.trained_stages = sorted(set(ckpt.get("trained_stages", [ckpt.get("train_stage", 0)]))
                                     | {args.train_stage})
        if self.switching:
            log.info("checkpoint %s trained stage %s; starting stage %d with its weights (the other "
                     "half is frozen and kept)", self.resumed_from, ckpt.get("train_stage"), args.train_stage)
        else:
            self._restore(ckpt)

    def _wrap_model(self) -> None:
        """``model_ddp`` is what the loop calls: the model, compiled and/or wrapped in DDP."""
        args = self.args
        self.model_ddp = self.model
        if args.compile:
            self.model_ddp = torch.compile(self.model_ddp)
        if self.world_size > 1:
            self.model_ddp = torch.nn.parallel.DistributedDataParallel(
                self.model_ddp, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=args.train_stage != 1)

    def _setup_outputs(self) -> None:
        """The monitor, and on the main rank the exp dir: stale temp files gone, config.yaml written,
        steps.jsonl cut back to the step this run starts from."""
        self.monitor = Monitor(self.exp_dir, self.args, self.is_main, self.train_cuts, self.world_size)
        if not self.is_main:
            return
        self.exp_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.exp_dir.glob(".tmp-*"):  # a checkpoint write cut short by a kill
            log.info("removing %s, left by an interrupted write", stale)
            stale.unlink(missing_ok=True)
        save_effective_config(self.args, self.exp_dir)
        self.monitor.truncate_history(self.step)

    def _start_history(self, ckpt, switching: bool) -> None:
        """What trained each half before this run (``valle.train.provenance``); warns when the NAR
        is about to be trained on a model whose AR was never trained."""
        args = self.args
        if ckpt is not None:
            self.base_trained_by = provenance.trained_by_of(ckpt, self.resumed_from)
            self.from_step = int(ckpt["step"])
            mine = [e for h in provenance.HALVES[args.train_stage] for e in self.base_trained_by[h]
                    if e.get("by") == f"valle.bin.train --train-stage {args.train_stage}"
                    and e.get("exp_dir") == str(self.exp_dir)]
            if mine and not switching:
                self.from_step = int(mine[-1].get("from_step", self.from_step))
        else:
            meta = provenance.read_meta(args.init_from) if args.init_from is not None else None
            self.base_trained_by = provenance.start_of_run(meta, args.init_from)
            self.from_step = 0
            if meta and meta.get("trained_stages") is not None:
                self.trained_stages = sorted({int(x) for x in meta["trained_stages"]} | {args.train_stage})
        if self.is_main:
            log.info("before this run: %s", provenance.describe(self.base_trained_by))
        if args.train_stage == 2 and not self.base_trained_by["ar"] and self.is_main:
            log.warning(
                "--train-stage 2 on a model whose AR was never trained (%s): the NAR trains fine on its own, "
                "but this checkpoint cannot synthesize (valle.bin.infer refuses it) until it is combined with a "
                "trained AR (--ar-checkpoint). To keep both halves in one file, train --train-stage 1 first and "
                "pass --init-from <that run's best-valid-loss.pt> (or run stage 2 in the same --exp-dir)",
                "fresh start, no --init-from" if ckpt is None and args.init_from is None else "its history records none")

    def _rank_rng(self, ckpt):
        per_rank = ckpt["rng"]
        return per_rank[self.rank] if self.rank < len(per_rank) else per_rank[0]

    def _restore(self, ckpt) -> None:
        try:
            self.optimizer.load_state_dict(ckpt["optimizer"])
        except (ValueError, KeyError) as e:
            raise ValueError(
                f"cannot resume from {self.resumed_from}: its optimizer state does not fit this run's trainable "
                f"parameters or --optimizer ({e}); keep the run's --trainable/--freeze/--optimizer, or start "
                f"anew from its weights with --resume none --init-from {self.resumed_from} and another --exp-dir"
            ) from e
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.sampler.load_state_dict(ckpt["sampler"])
        self.epoch = int(ckpt["epoch"])
        extra = ckpt.get("train_state", {})
        self.best_valid = float(extra.get("best_valid", math.inf))
        self.bad_valids = int(extra.get("bad_valids", 0))
        # a run killed before its --max-cpu-seconds ran out goes on with what is left of that budget (and the
        # cosine over it); one that spent it, or a new budget, starts a budget of its own (docs/training.md)
        if (self.args.max_cpu_seconds and extra.get("cpu_budget") == self.args.max_cpu_seconds
                and not extra.get("budget_done", True)):
            self.cpu_carried = float(extra.get("cpu_seconds", 0.0))
            log.info("resuming the --max-cpu-seconds %g budget with %.1f CPU-s already spent",
                     self.args.max_cpu_seconds, self.cpu_carried)

    # -- checkpoints ----------------------------------------------------------------------
    def save(self, name: str) -> None:
        rng = ckpt_io.get_rng_state()
        if self.world_size > 1:
            gathered = [None] * self.world_size
            torch.distributed.all_gather_object(gathered, rng)
            rng_all = gathered
        else:
            rng_all = [rng]
        if not self.is_main:
            return
        ckpt_io.save_checkpoint(
            self.exp_dir / name,
            model=self.model.state_dict(), model_config=self.config.to_dict(),
            text_symbols=list(self.text_symbols), train_stage=self.args.train_stage, codec=self.codec_facts,
            trained_stages=list(self.trained_stages),
            trained_by=provenance.stamp(self.base_trained_by, self.args.train_stage, self.exp_dir,
                                        self.from_step, self.step),
            optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
            scaler=self.scaler.state_dict(), sampler=self.sampler.state_dict(), rng=rng_all,
            step=self.step, epoch=self.epoch, args=ckpt_io.args_to_dict(self.args),
            train_state={"best_valid": self.best_valid, "bad_valids": self.bad_valids,
                         "cpu_budget": self.args.max_cpu_seconds, "budget_done": self.budget_done,
                         "cpu_seconds": self._cpu_seconds() if self.cpu_start is not None else self.cpu_carried},
        )
        ckpt_io.remove_old_checkpoints(self.exp_dir, self.args.keep_last_k)

    # -- loop -----------------------------------------------------------------------------
    def fit(self) -> Dict[str, float]:
        args = self.args
        if self.device.type == "cuda" and args.oom_scan:
            from valle.train.oom_scan import scan_pessimistic_batches

            scan_pessimistic_batches(self)
        result: Dict[str, float] = {}
        if args.max_steps and self.step >= args.max_steps:
            log.info("already at step %d >= --max-steps %d: nothing to train (raise --max-steps to go on)",
                     self.step, args.max_steps)
            self.monitor.close()
            return result
        if self.new_run:  # not a resume of this run: the starting weights' loss goes on record
            self.validate_start()
        self.cpu_start = time.process_time()
        while self.epoch <= args.num_epochs:
            self.scheduler.step_epoch(self.epoch - 1)
            self.sampler.set_epoch(self.epoch)
            self.dataset.set_epoch(self.epoch)
            stop = self.train_one_epoch()
            if stop is not None:
                self.budget_done = stop is StopReason.CPU_BUDGET
                if stop.saves_checkpoint:
                    self.validate_end()
                    self.save(f"checkpoint-{self.step}.pt")
                break
            result = self.run_validation(epoch_end=True) or result
            self.epoch += 1
            if args.epoch_checkpoints:
                self.save(f"epoch-{self.epoch - 1}.pt")
            if self._early_stop():
                break
        self.validate_end()
        self.monitor.close()
        return result

    def train_one_epoch(self) -> Optional[StopReason]:
        """Train until the sampler is exhausted (returns None) or a limit stops the run (its StopReason)."""
        args = self.args
        model = self.model_ddp
        model.train()
        loader = make_loader(self.dataset, self.sampler, args.num_workers, args.seed + self.epoch)
        accum = max(1, args.accumulate_grad_steps)
        micro, bad_in_a_row, stats = 0, 0, []
        self.optimizer.zero_grad(set_to_none=True)
        for batch in loader:
            micro += 1
            self.sampler.consumed()
            sync = micro % accum == 0
            ctx = model.no_sync() if (self.world_size > 1 and not sync) else contextlib.nullcontext()
            with ctx:
                out = compute_loss(model, batch, args, self.device)
                finite = _all_reduce([float(torch.isfinite(out["loss"]).all())], self.device,
                                     self.world_size)[0] == self.world_size
                if finite:
                    self.scaler.scale(out["loss"] / accum).backward()
            if not finite:
                bad_in_a_row += 1
                log.warning("step %d: inf/NaN loss on cuts %s; batch skipped (%d in a row)",
                            self.step, batch["cut_ids"][:4], bad_in_a_row)
                if bad_in_a_row >= args.max_bad_batches:
                    raise TrainingStopped(f"{bad_in_a_row} inf/NaN batches in a row (--max-bad-batches); "
                                          "lower --base-lr or check the data")
                self.optimizer.zero_grad(set_to_none=True)
                micro, stats = 0, []
                continue
            bad_in_a_row = 0
            stats.append((out, batch_frames(batch)))
            if not sync:
                continue
            self.scaler.unscale_(self.optimizer)
            # ScaledAdam measures the same norm for its clipping; reuse it instead of another pass
            # over every gradient (unless a GradScaler may skip the optimizer step).
            reuse_norm = isinstance(self.optimizer, ScaledAdam) and not self.scaler.is_enabled()
            grad_norm = None if reuse_norm else self._grad_norm()
            self.scaler.step(self.optimizer)
            if reuse_norm:
                grad_norm = self.optimizer.last_grad_norm
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            if isinstance(self.scheduler, BudgetCosine):  # decays over the share of --max-cpu-seconds spent
                self.scheduler.spent = self._budget_spent()
            self.scheduler.step_batch(self.step)
            rec = self.monitor.log_step(self.step, self.epoch, stats, grad_norm, self.scheduler.get_last_lr()[0],
                                        self.device)
            stats = []
            if args.valid_interval > 0 and self.step % args.valid_interval == 0:
                self.run_validation(epoch_end=False)
                model.train()
            if args.save_every_n > 0 and self.step % args.save_every_n == 0:
                self.save(f"checkpoint-{self.step}.pt")
            stop = self._stop_reason(rec)
            if stop is not None:
                return stop
        return None

    def _stop_reason(self, rec: dict) -> Optional[StopReason]:
        """The first limit this step reached (checked after every optimizer step), else None."""
        args = self.args
        if args.max_steps and self.step >= args.max_steps:
            return StopReason.MAX_STEPS
        if args.stop_at_loss and self._loss_reached(rec):
            return StopReason.LOSS_TARGET
        if args.max_cpu_seconds and self._cpu_seconds() >= args.max_cpu_seconds:
            log.info("step %d: --max-cpu-seconds %g reached", self.step, args.max_cpu_seconds)
            return StopReason.CPU_BUDGET
        if args.early_stop_patience and self.bad_valids >= args.early_stop_patience:
            return StopReason.EARLY_STOP
        return None

    def _cpu_seconds(self) -> float:
        """CPU seconds (all threads of this process) this run has trained, plus those a killed run of the same
        budget had spent by its checkpoint: what --max-cpu-seconds counts."""
        return time.process_time() - self.cpu_start + self.cpu_carried

    def _budget_spent(self) -> float:
        """The share of --max-cpu-seconds this run has used, 0..1 (the mean over ranks, so every rank
        steps with the same learning rate)."""
        share = min(self._cpu_seconds() / self.args.max_cpu_seconds, 1.0)
        return _all_reduce([share], self.device, self.world_size)[0] / self.world_size

    def _loss_reached(self, rec: dict) -> bool:
        """--stop-at-loss: the mean training loss of the last 5 steps is at or below the mark."""
        recent = self.recent_losses = (self.recent_losses + [rec.get("loss", math.inf)])[-5:]
        if len(recent) == 5 and sum(recent) / 5 <= self.args.stop_at_loss:
            log.info("step %d: training loss %.4f (mean of 5 steps) <= --stop-at-loss %g", self.step,
                     sum(recent) / 5, self.args.stop_at_loss)
            return True
        return False

    def _grad_norm(self) -> float:
        """Total gradient norm before clipping (grads are already averaged across ranks)."""
        grads = [p.grad.detach().float() for p in self.model.parameters() if p.grad is not None]
        if not grads:
            return 0.0
        return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))

    def validate_start(self) -> None:
        """The starting model's validation loss, on record (log, valid.jsonl, TensorBoard) at the
        run's first step number (0, or the step a stage switch continues from).

        It does not compete for best-valid-loss.pt, which always holds weights this run trained."""
        if self.valid_loader is None:
            return
        res = validate(self.model_ddp, self.valid_loader, self.args, self.device, self.world_size)
        if self.is_main:
            log.info("validation before the first step (the starting model): loss %.4f", res.get("loss", math.nan))
        self.monitor.log_valid(self.step, self.epoch, res)
        self.last_valid = (self.step, res)

    def validate_end(self) -> None:
        """Validate the final weights unless the last validation already saw them, so a run that
        ends at --max-steps, early stop or the last epoch always has best-valid-loss.pt on record."""
        validated = self.last_valid is not None and self.last_valid[0] == self.step
        if self.valid_loader is not None and self.step > 0 and not validated:
            log.info("validation at the end of training (step %d)", self.step)
            self.run_validation(epoch_end=True)

    def run_validation(self, epoch_end: bool) -> Optional[Dict[str, float]]:
        if self.valid_loader is None:
            return None
        if self.last_valid is not None and self.last_valid[0] == self.step:
            # --valid-interval and the epoch's end on one step: the same weights, validated once (a second
            # record would count against --early-stop-patience)
            return self.last_valid[1]
        res = validate(self.model_ddp, self.valid_loader, self.args, self.device, self.world_size)
        self.last_valid = (self.step, res)
        self.monitor.log_valid(self.step, self.epoch, res)
        if not math.isfinite(res.get("loss", 0.0)):
            raise TrainingStopped(f"validation loss is {res['loss']} at step {self.step}: the model diverged "
                                  "(lower --base-lr, or check the data); no checkpoint written for it")
        if res.get("loss", math.inf) < self.best_valid:
            self.best_valid = res["loss"]
            self.bad_valids = 0
            self.save("best-valid-loss.pt")
        else:
            self.bad_valids += 1
        if self.is_main and self.args.synthesize_at_valid:
            self.monitor.synthesize_valid_cut(self.model, self.text_symbols, self.valid_cuts, self.step)
        self.valid_count = getattr(self, "valid_count", 0) + 1
        if self.is_main and self.args.eval_every and self.valid_count % self.args.eval_every == 0:
            self.monitor.evaluate_dev(self.model, self.text_symbols, self.valid_cuts, self.step)
        return res

    def _early_stop(self) -> bool:
        p = self.args.early_stop_patience
        if p and self.bad_valids >= p:
            log.info("early stop: no validation improvement in %d validations", p)
            return True
        return False


def run(args) -> Dict[str, float]:
    with exp_lock.hold(args.exp_dir):  # one training per --exp-dir (valle/train/exp_lock.py)
        trainer = Trainer(args)
        try:
            return trainer.fit()
        except KeyboardInterrupt:
            if trainer.is_main:
                log.error(interrupted_hint(trainer.exp_dir, trainer.step))
            raise SystemExit(130) from None
        finally:
            if trainer.world_size > 1 and torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()
