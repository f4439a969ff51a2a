"""Command-line options of ``valle.bin.train`` and the YAML files of option values.

Precedence, one rule for every recipe: parser default < ``--recipe-config`` (the recipe's
egs/<corpus>/conf/train.yaml, passed by egs/*/run.sh) < ``--config FILE`` < command line.
The effective configuration is written to the experiment dir as ``config.yaml`` together with
``command.sh``, a command line that reruns exactly this configuration.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import List, Optional

import yaml

from valle.codec.options import refuse_renamed_codec_options
from valle.data.sampler import DEFAULT_MAX_DURATION, DEFAULT_NUM_BUCKETS
from valle.utils.atomic import atomic_write_text
from valle.utils.cli import add_tokenized_dir_option, refused_options, str2bool
from valle.utils.precision import DTYPE_CHOICES


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m valle.bin.train",
        description="Train or fine-tune VALL-E / VALL-E X (AR and/or NAR) on prepare.sh output.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--recipe-config", type=Path, default=None,
                   help="the recipe's defaults, egs/<corpus>/conf/train.yaml (egs/*/run.sh passes it); YAML keys = "
                        "option names with _ or -")
    p.add_argument("--config", type=Path, default=None,
                   help="YAML file of option values over --recipe-config's; the command line overrides both")

    g = p.add_argument_group("data")
    add_tokenized_dir_option(g, default=Path("data/tokenized"))
    g.add_argument("--train-cuts", type=Path, default=None, help="default: TOKENIZED_DIR/cuts_train.jsonl.gz")
    g.add_argument("--valid-cuts", type=Path, default=None,
                   help="default: TOKENIZED_DIR/cuts_dev.jsonl.gz (skipped if absent)")
    g.add_argument("--text-symbols", type=Path, default=None, help="default: TOKENIZED_DIR/unique_text_tokens.k2symbols")
    g.add_argument("--max-duration", type=float, default=DEFAULT_MAX_DURATION, help="seconds of audio per batch (per process)")
    g.add_argument("--num-buckets", type=int, default=DEFAULT_NUM_BUCKETS)
    g.add_argument("--quadratic-duration", type=float, default=None, help="lhotse: penalise long cuts as if d + d^2/Q")
    g.add_argument("--shuffle", type=str2bool, default=True)
    g.add_argument("--drop-last", type=str2bool, default=False)
    g.add_argument("--buffer-size", type=int, default=20000)
    g.add_argument("--shuffle-buffer-size", type=int, default=None, help="lhotse >= 1.20 adds it to --buffer-size (deprecated there)")
    g.add_argument("--num-cuts-for-bins-estimate", type=int, default=10000)
    g.add_argument("--filter-min-duration", type=float, default=0.5)
    g.add_argument("--filter-max-duration", type=float, default=20.0)
    g.add_argument("--num-workers", type=int, default=2, help="DataLoader worker processes (0 = load in the main process)")
    g.add_argument("--prompt-max-frames", type=int, default=225, help="prefix mode 4: longest same-speaker prompt")
    g.add_argument("--concat-prompt", type=str2bool, default=False,
                   help="train on another same-speaker utterance + this one (text and codes joined), "
                        "the layout synthesis continues from (docs/training.md)")

    g = p.add_argument_group("model")
    g.add_argument("--model-preset", default=None,
                   help="nano | small | valle | vallex (default: small from scratch; with --init-from the "
                        "checkpoint's own config, or vallex inferred from shapes for published files)")
    for name, typ in [("d-model", int), ("nhead", int), ("num-layers", int), ("dim-feedforward", int),
                      ("dropout", float), ("prefix-mode", int), ("text-vocab-size", int),
                      ("num-languages", int), ("num-quantizers", int)]:
        g.add_argument(f"--{name}", type=typ, default=None, help="override the preset's value")
    g.add_argument("--train-stage", type=int, choices=[0, 1, 2], default=0, help="0 = AR+NAR, 1 = AR, 2 = NAR")
    g.add_argument("--nar-stages-per-step", type=int, default=1,
                   help="NAR codebooks trained per batch (distinct, drawn at random; num_quantizers-1 = all): "
                        "each codebook learns more per CPU second, at the cost of a slower step")
    g.add_argument("--guided-attention-weight", type=float, default=0.0,
                   help="weight of the guided-attention loss (valle/models/guided_attention.py): pulls the AR's "
                        "attention from audio to text onto the diagonal, so a small model trained from scratch "
                        "learns alignment sooner; 0 = off (the published recipe)")
    g.add_argument("--guided-attention-sigma", type=float, default=0.2,
                   help="width of the guided-attention diagonal, as a fraction of the text and audio lengths")
    g.add_argument("--share-embedding", type=str2bool, default=None,
                   help="override the preset: tie the NAR output layers to the NAR input tables (the published "
                        "layout; the key set is the same either way). false: untied, small initial logits")
    g.add_argument("--nar-parallel", type=str2bool, default=None,
                   help="override the preset: the NAR predicts every codebook 1..Q-1 in one pass from codebook 0 "
                        "(one forward per batch, not one per codebook; best with --share-embedding false). "
                        "false: VALL-E's stage-by-stage NAR")
    g.add_argument("--init-from", type=Path, default=None, help="our checkpoint, the published VALL-E X file or a lifeiteng checkpoint")
    g.add_argument("--init-mismatch", choices=["strict", "resize"], default="strict",
                   help="resize: grow/shrink text and audio tables keeping the overlapping rows")
    g.add_argument("--trainable", nargs="+", default=None, metavar="GLOB", help="only parameters matching these globs train")
    g.add_argument("--freeze", nargs="+", default=None, metavar="GLOB", help="parameters matching these globs are frozen")
    g.add_argument("--activation-checkpointing", type=str2bool, default=False)
    g.add_argument("--compile", type=str2bool, default=False, help="torch.compile the model")

    g = p.add_argument_group("optimisation")
    g.add_argument("--optimizer", choices=["scaled_adam", "adamw"], default="scaled_adam")
    g.add_argument("--scheduler", choices=["eden", "cosine", "noam"], default="eden")
    g.add_argument("--base-lr", type=float, default=0.05)
    g.add_argument("--warmup-steps", type=int, default=200)
    g.add_argument("--lr-batches", type=float, default=5000.0, help="Eden B")
    g.add_argument("--lr-epochs", type=float, default=4.0, help="Eden E")
    g.add_argument("--lr-total-steps", type=int, default=None,
                   help="cosine: steps to reach the minimum (default: --max-steps; without it, a run that "
                        "--max-cpu-seconds ends decays over that CPU budget, else over 100000 steps)")
    g.add_argument("--weight-decay", type=float, default=0.01, help="AdamW only")
    g.add_argument("--clipping-scale", type=float, default=2.0, help="ScaledAdam: clip at this x median grad norm")
    g.add_argument("--accumulate-grad-steps", type=int, default=1)
    g.add_argument("--dtype", choices=DTYPE_CHOICES, default="auto",
                   help="autocast dtype; auto = bf16 on CUDA and on CPUs with native bf16 (AMX / AVX512-BF16) "
                        "where it measures faster, else float32; bf16 on other CPUs is warned about")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--max-bad-batches", type=int, default=10, help="stop after this many inf/NaN batches in a row")
    g.add_argument("--oom-scan", type=str2bool, default=True, help="GPU: try the largest batches before training")

    g = p.add_argument_group("run")
    g.add_argument("--exp-dir", type=Path, default=Path("exp/valle"))
    g.add_argument("--num-epochs", type=int, default=20)
    g.add_argument("--max-steps", type=int, default=0, help="stop after this many optimizer steps (0 = no limit)")
    g.add_argument("--max-cpu-seconds", type=float, default=0,
                   help="stop (with a checkpoint) after this many CPU seconds of this process, all threads (0 = no limit)")
    g.add_argument("--stop-at-loss", type=float, default=0,
                   help="stop (with a checkpoint) once the mean training loss of the last 5 steps is at or below "
                        "this (0 = off): train a tiny model until it has memorised its data")
    g.add_argument("--resume", default="auto", help="auto (latest checkpoint in --exp-dir) | none | PATH")
    g.add_argument("--valid-interval", type=int, default=1000, help="validate every N batches (and at each epoch end)")
    g.add_argument("--early-stop-patience", type=int, default=0, help="stop after N validations without improvement (0 = off)")
    g.add_argument("--save-every-n", type=int, default=1000, help="write checkpoint-<batch>.pt every N batches")
    g.add_argument("--epoch-checkpoints", type=str2bool, default=True,
                   help="write epoch-<n>.pt at every epoch end (false: a tiny corpus whose epoch is one step, "
                        "where the writes cost more than the steps; the run's last checkpoint is still written)")
    g.add_argument("--keep-last-k", type=int, default=5, help="checkpoint-<batch>.pt files kept (0 = all)")
    g.add_argument("--log-interval", type=int, default=10)
    g.add_argument("--tensorboard", type=str2bool, default=True)
    g.add_argument("--synthesize-at-valid", type=str2bool, default=True,
                   help="TensorBoard validation audio, decoded with the codec the data were prepared with (prepare.sh --codec)")
    refuse_renamed_codec_options(g)
    g.add_argument("--eval-every", type=int, default=0,
                   help="every N validations: WER and speaker similarity of a few dev sentences to TensorBoard (0 = off)")
    g.add_argument("--eval-sentences", type=int, default=3, help="dev sentences for --eval-every")
    return p


CONFIG_FILES = ("recipe_config", "config")  # the YAML layers, lowest first


def _dest_map(parser: argparse.ArgumentParser):
    """Every real option by dest (not --help, not the refused old spellings)."""
    return {a.dest: a for a in parser._actions if a.dest != "help" and a.default is not argparse.SUPPRESS}


def yaml_defaults(parser: argparse.ArgumentParser, path: Path, option: str) -> dict:
    """The option values a YAML file sets (dest -> value, typed as on the command line); bad keys,
    values or YAML end the parse with one line naming ``option`` and the file."""
    path = Path(path)
    where = f"{option} {path}"
    if not path.is_file():
        parser.error(f"{where}: file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        parser.error(f"{where}: invalid YAML ({e})")
    if not isinstance(data, dict):
        parser.error(f"{where}: expected a mapping of option: value")
    dests, refused = _dest_map(parser), refused_options(parser)
    defaults = {}
    for key, value in data.items():
        dest = str(key).lstrip("-").replace("-", "_")
        old = "--" + str(key).lstrip("-")
        if old in refused:
            parser.error(f"{where}: key '{key}': {refused[old]}")
        if dest not in dests or dest in CONFIG_FILES:
            parser.error(f"{where}: unknown option '{key}' (see --help for the names)")
        action = dests[dest]
        if value is not None and action.type is not None and not isinstance(value, list):
            value = action.type(value) if action.type is not str2bool else str2bool(value)
        elif isinstance(value, list) and action.type is not None:
            value = [action.type(v) for v in value]
        if action.choices is not None and value not in action.choices:
            parser.error(f"{where}: {key}={value!r} is not one of {list(action.choices)}")
        defaults[dest] = value
    return defaults


def parse_args(argv: Optional[List[str]] = None, parser: Optional[argparse.ArgumentParser] = None):
    """The one precedence rule: parser default < ``--recipe-config`` < ``--config`` < command line
    (each YAML layer replaces the defaults below it; the command line is parsed last)."""
    parser = parser or get_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    pre, _ = parser.parse_known_args(argv)
    for dest in CONFIG_FILES:
        path = getattr(pre, dest)
        if path is not None:
            parser.set_defaults(**yaml_defaults(parser, path, "--" + dest.replace("_", "-")))
    args = parser.parse_args(argv)
    problem = numeric_option_problem(args)
    if problem:
        parser.error(problem)
    if getattr(args, "nar_parallel", None) and args.nar_stages_per_step > 1:
        parser.error(f"--nar-stages-per-step {args.nar_stages_per_step} has nothing to choose with --nar-parallel "
                     "true (its one pass trains every codebook): drop one of the two")
    return args


# option -> (lowest allowed, whether the lowest itself is allowed, highest or None); every float must be finite
NUMERIC_RANGES = {
    "base_lr": (0.0, False, None), "max_duration": (0.0, False, None), "dropout": (0.0, True, 1.0),
    "lr_batches": (0.0, False, None), "lr_epochs": (0.0, False, None), "weight_decay": (0.0, True, None),
    "clipping_scale": (0.0, False, None), "filter_min_duration": (0.0, True, None),
    "filter_max_duration": (0.0, False, None), "num_epochs": (1, True, None), "warmup_steps": (0, True, None),
    "accumulate_grad_steps": (1, True, None), "max_bad_batches": (1, True, None), "max_steps": (0, True, None),
    "lr_total_steps": (1, True, None), "num_workers": (0, True, None), "keep_last_k": (0, True, None),
    "save_every_n": (0, True, None), "valid_interval": (0, True, None), "log_interval": (0, True, None),
    "early_stop_patience": (0, True, None), "num_buckets": (1, True, None), "nar_stages_per_step": (1, True, None),
    "stop_at_loss": (0.0, True, None), "guided_attention_weight": (0.0, True, None),
    "guided_attention_sigma": (0.0, False, None),
}


def numeric_option_problem(args) -> Optional[str]:
    """One line naming the first numeric option that is NaN/inf or out of range, else None."""
    import math

    for dest, value in sorted(vars(args).items()):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        name = "--" + dest.replace("_", "-")
        if not math.isfinite(value):
            return f"{name} {value}: must be a finite number"
        if dest not in NUMERIC_RANGES:
            continue
        low, low_ok, high = NUMERIC_RANGES[dest]
        if value < low or (value == low and not low_ok) or (high is not None and value >= high):
            bound = f">= {low}" if low_ok else f"> {low}"
            return f"{name} {value}: must be {bound}" + (f" and < {high}" if high is not None else "")
    return None


def effective_command(args, parser: Optional[argparse.ArgumentParser] = None) -> str:
    """A shell command line that reruns ``args`` without needing the YAML file."""
    parser = parser or get_parser()
    parts = ["python", "-m", "valle.bin.train"]
    for dest, action in _dest_map(parser).items():
        if dest in CONFIG_FILES:
            continue
        value = getattr(args, dest, None)
        if value is None:
            continue
        opt = action.option_strings[-1]
        if isinstance(value, list):
            parts += [opt] + [str(v) for v in value]
        else:
            parts += [opt, str(value).lower() if isinstance(value, bool) else str(value)]
    return " ".join(shlex.quote(x) for x in parts)


def save_effective_config(args, exp_dir: Path) -> None:
    data = {}
    for dest in _dest_map(get_parser()):
        if dest in CONFIG_FILES:
            continue
        v = getattr(args, dest, None)
        if isinstance(v, Path):
            v = str(v)
        elif isinstance(v, list):
            v = [str(x) for x in v]
        data[dest.replace("_", "-")] = v
    atomic_write_text(Path(exp_dir) / "config.yaml", yaml.safe_dump(data, sort_keys=False))
    atomic_write_text(Path(exp_dir) / "command.sh", "#!/bin/sh\n" + effective_command(args) + "\n")
