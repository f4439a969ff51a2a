"""Everything ``run()`` builds before the first batch: device, model, optimizer, schedule.

Split from the loop so each decision (which table, which weights, which parameters train,
which optimizer) reads top-down in one place and fails before any training starts.
"""
from __future__ import annotations

import logging
import os
from typing import Dict, Optional, Tuple

import torch

from valle.codec import facts_of
from valle.train.init_from import (
    load_into, merge_symbol_tables, model_overrides, published_vallex_symbols, read_init_checkpoint,
)
from valle.train.optim import ScaledAdam
from valle.train.schedulers import BudgetCosine, Cosine, Eden, Noam

log = logging.getLogger(__name__)

DEFAULT_PRESET = "small"


def pick_device(arg: str, local_rank: int) -> torch.device:
    if arg == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if arg.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {arg}: CUDA was asked for but no GPU is available; use --device cpu")
        return torch.device(arg if ":" in arg else f"cuda:{local_rank}")
    if arg != "cpu":
        raise ValueError(f"--device {arg}: expected auto, cpu, cuda or cuda:N")
    return torch.device("cpu")


def init_distributed() -> Tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; initialises the process group."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return 0, 1, 0
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return rank, world_size, local_rank


def _nar_mode_on_resume(cfg, args, switching: bool, ckpt_path):
    """The stored config, with ``--nar-parallel`` applied when this run switches stage (its weights
    carry over, the stage trained is new: ``run.sh --train-stage 1`` then ``2`` in one exp dir);
    a plain resume that contradicts the stored mode is refused."""
    from dataclasses import replace

    wanted = getattr(args, "nar_parallel", None)
    if wanted is None or bool(wanted) == cfg.nar_parallel:
        return cfg
    option = f"--nar-parallel {str(bool(wanted)).lower()}"
    if switching:
        log.info("--train-stage %d after the other stage in %s: the NAR trains with %s", args.train_stage,
                 args.exp_dir, option)
        return replace(cfg, nar_parallel=bool(wanted))
    raise ValueError(
        f"resuming: checkpoint {ckpt_path} trained its NAR with nar_parallel={cfg.nar_parallel}, and "
        f"{option} contradicts it: drop the option, or pass --resume none with another --exp-dir to start anew"
    )


def build_config(args, resume_ckpt: Optional[dict], data_symbols, train_symbols_used, codec: str = "encodec",
                 ckpt_path=None, switching: bool = False):
    """(ModelConfig, state_dict or None, text symbols list) for this run, modelling ``codec``'s codes;
    ``switching``: ``resume_ckpt`` trained the other stage (``Trainer._setup_resume``)."""
    from valle.models import ModelConfig, get_preset
    from valle.models.config import PRESETS, for_codec
    from valle.train.data_codec import check_model_codec

    if resume_ckpt is not None:
        from valle.models.checkpoint_import import check_against_stored

        check_against_stored(f"resuming: checkpoint {ckpt_path}", resume_ckpt["model_config"], args.model_preset,
                             model_overrides(args), fix="pass --resume none with another --exp-dir to start anew")
        cfg = ModelConfig.from_dict(resume_ckpt["model_config"])
        check_model_codec(cfg.codec, facts_of(codec), f"the checkpoint to resume ({args.exp_dir})")
        cfg = _nar_mode_on_resume(cfg, args, switching, ckpt_path)
        return cfg, resume_ckpt["model"], list(resume_ckpt["text_symbols"]), None
    if args.model_preset is not None and args.model_preset not in PRESETS:
        raise ValueError(f"--model-preset {args.model_preset!r} is unknown; choose one of {sorted(PRESETS)}")
    overrides = model_overrides(args)
    if args.init_from is not None:
        cfg, state, ckpt_symbols, info = read_init_checkpoint(args.init_from, args.model_preset, overrides)
        check_model_codec(cfg.codec, facts_of(codec), f"--init-from {args.init_from}")
        if ckpt_symbols is None and info.get("format") == "vallex-published":
            ckpt_symbols = published_vallex_symbols()
        symbols = merge_symbol_tables(args.init_from, data_symbols.symbols, ckpt_symbols, args.init_mismatch,
                                      used_symbols=train_symbols_used)
        if len(symbols) > cfg.text_vocab_size:
            if args.init_mismatch != "resize":
                raise ValueError(
                    f"--init-from {args.init_from}: {len(symbols)} text symbols but the checkpoint's table has "
                    f"{cfg.text_vocab_size} rows; pass --init-mismatch resize"
                )
            cfg = ModelConfig.from_dict({**cfg.to_dict(), "text_vocab_size": len(symbols)})
        if args.dropout is not None:
            cfg = ModelConfig.from_dict({**cfg.to_dict(), "dropout": args.dropout})
        return cfg, state, symbols, info
    cfg = for_codec(get_preset(args.model_preset or DEFAULT_PRESET, **overrides), codec)
    symbols = data_symbols.symbols
    if len(symbols) > cfg.text_vocab_size:
        if args.text_vocab_size is not None:
            raise ValueError(
                f"--text-vocab-size {args.text_vocab_size} is smaller than the symbol table "
                f"{args.text_symbols} ({len(symbols)} symbols)"
            )
        log.info("text_vocab_size %d -> %d to fit %s", cfg.text_vocab_size, len(symbols), args.text_symbols)
        cfg = ModelConfig.from_dict({**cfg.to_dict(), "text_vocab_size": len(symbols)})
    return cfg, None, symbols, None


def build_model(cfg, state: Optional[Dict[str, torch.Tensor]], args, from_resume: bool):
    from valle.models import VALLE

    model = VALLE(cfg)
    if state is not None:
        if from_resume:
            model.load_state_dict(state, strict=True)
        else:
            load_into(model, state, args.init_from, args.init_mismatch)
            log.info("initialised from %s", args.init_from)
    if args.activation_checkpointing:
        model.set_activation_checkpointing(True)
    return model


def build_optimizer(params, args):
    if args.optimizer == "scaled_adam":
        return ScaledAdam(params, lr=args.base_lr, clipping_scale=args.clipping_scale)
    # fused: one kernel over all tensors (measured on CPU: 17 ms per step instead of 60 ms at 10.6 M params)
    return torch.optim.AdamW(params, lr=args.base_lr, betas=(0.9, 0.95), weight_decay=args.weight_decay,
                             fused=True)


def build_scheduler(optimizer, args):
    if args.scheduler == "eden":
        return Eden(optimizer, args.lr_batches, args.lr_epochs, warmup_batches=args.warmup_steps)
    if args.scheduler == "noam":
        return Noam(optimizer, warmup_batches=max(args.warmup_steps, 1))
    if cosine_over_cpu_budget(args):
        log.info("cosine learning rate over this run's CPU budget (--max-cpu-seconds %g): its minimum when "
                 "the budget ends", args.max_cpu_seconds)
        return BudgetCosine(optimizer, warmup_batches=args.warmup_steps)
    return Cosine(optimizer, total_batches=cosine_length(args), warmup_batches=args.warmup_steps)


def cosine_over_cpu_budget(args) -> bool:
    """A cosine run that only --max-cpu-seconds ends (no --lr-total-steps, no --max-steps) decays over
    that CPU budget, not over a step count it cannot know."""
    return (args.scheduler == "cosine" and not args.lr_total_steps and not args.max_steps
            and bool(getattr(args, "max_cpu_seconds", 0)))


COSINE_DEFAULT_STEPS = 100000


def cosine_length(args) -> int:
    """--lr-total-steps if given, else --max-steps (so a short run still decays), else 100000 (a run
    with --max-cpu-seconds alone decays over its CPU budget instead: ``cosine_over_cpu_budget``)."""
    if args.lr_total_steps:
        return int(args.lr_total_steps)
    return int(args.max_steps) if args.max_steps else COSINE_DEFAULT_STEPS


def schedule_warnings(args) -> list:
    """What a run's schedule will not reach before --max-steps ends it (one line each)."""
    out = []
    if not args.max_steps:
        return out
    if args.warmup_steps > args.max_steps:
        out.append(f"--max-steps {args.max_steps} ends the run before its warm-up (--warmup-steps "
                   f"{args.warmup_steps}) does: the learning rate never reaches --base-lr {args.base_lr:g}; "
                   "lower --warmup-steps")
    if args.scheduler == "cosine" and args.lr_total_steps and args.lr_total_steps > args.max_steps:
        out.append(f"--lr-total-steps {args.lr_total_steps} is longer than --max-steps {args.max_steps}: the "
                   "cosine is cut before it decays; drop --lr-total-steps to make it follow --max-steps")
    return out


def build_scaler(args, device: torch.device):
    return torch.amp.GradScaler(device.type, enabled=args.dtype == "float16")

