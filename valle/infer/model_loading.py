"""``load_synthesis_model``: the AR+NAR model for synthesis (eval mode, on a device) from one checkpoint
or from an AR and a NAR checkpoint (``valle.models.checkpoint_import.model_from_checkpoint`` builds
the model of one file as it is, for import and tests).

Why: training runs the stages apart (``--train-stage 1`` then ``2``), so the AR half of the
usable model lives in one experiment dir and the NAR half in another.  Every state-dict key
starts with ``ar_`` or ``nar_`` (the published VALL-E X layout), so the halves are merged by
prefix after checking that both files describe the same architecture and the same text symbols.
A checkpoint whose NAR was never trained (only ``--train-stage 1`` ran, from scratch) would
synthesize noise, so it is refused with the fix instead; a stage-1 fine-tune ``--init-from`` a
complete model keeps that model's NAR and is accepted.

Reading goes through ``valle.models.checkpoint_import.read_checkpoint``, which understands our
training checkpoints, the published VALL-E X files and lifeiteng-style files, always with
``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch

from valle.utils.input_path import not_a_file


class CheckpointLoadError(ValueError):
    """The checkpoints cannot make a complete AR+NAR model; the message says why and the fix."""


class UntrainedHalfError(CheckpointLoadError):
    """The checkpoint's AR or NAR was never trained (a from-scratch run of one train stage)."""


@dataclass
class LoadedModel:
    model: Any  # valle.models.VALLE, eval mode
    config: Any  # ModelConfig
    text_symbols: Optional[List[str]]
    sources: Dict[str, str] = field(default_factory=dict)  # "ar" / "nar" -> file
    train_args: Optional[dict] = None
    codec: Optional[dict] = None  # the facts of the codec the checkpoint was trained on (None: not recorded)


def _untrained_half(path, half: str) -> bool:
    """True if no training ever touched ``half`` ("ar" or "nar") of ``path``.

    Read from the checkpoint's ``trained_by`` (``valle.train.provenance``; older files: their
    ``trained_stages``, and a run ``--init-from`` another model keeps that model's halves);
    published and lifeiteng files count as trained.
    """
    from valle.train.provenance import untrained_halves

    return half in untrained_halves(path)


def _read(path, model_preset: Optional[str], overrides: dict):
    from valle.models.checkpoint_import import read_checkpoint

    path = Path(path)
    if not path.is_file():
        raise CheckpointLoadError(f"checkpoint {path} {not_a_file(path)}: pass a checkpoint file to --checkpoint / "
                                  "--ar-checkpoint / --nar-checkpoint")
    try:
        return read_checkpoint(path, model_preset=model_preset, **overrides)
    except (ValueError, KeyError, RuntimeError) as e:
        raise CheckpointLoadError(f"cannot use checkpoint {path}: {e}") from e


def _half(state: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if k.startswith(prefix)}


def load_synthesis_model(
    checkpoint=None,
    ar_checkpoint=None,
    nar_checkpoint=None,
    model_preset: Optional[str] = None,
    device: str = "cpu",
    allow_untrained: bool = False,
    **overrides,
) -> LoadedModel:
    """Load a complete AR+NAR ``VALLE`` in eval mode (see module docstring)."""
    from valle.models import VALLE

    if checkpoint is not None and (ar_checkpoint is not None or nar_checkpoint is not None):
        raise CheckpointLoadError("pass either --checkpoint or --ar-checkpoint with --nar-checkpoint, not both")
    if checkpoint is None and (ar_checkpoint is None or nar_checkpoint is None):
        raise CheckpointLoadError(
            "no complete model given: pass --checkpoint (AR and NAR trained together, --train-stage 0, "
            "or a published VALL-E X file) or both --ar-checkpoint and --nar-checkpoint"
        )
    if checkpoint is not None:
        config, state, symbols, info = _read(checkpoint, model_preset, overrides)
        if _half(state, "nar_") and _untrained_half(checkpoint, "nar"):
            raise UntrainedHalfError(
                f"checkpoint {checkpoint} was trained from scratch with --train-stage 1 only: its NAR half "
                "was never trained. Train the NAR (run.sh --train-stage 2) and pass --ar-checkpoint "
                f"{checkpoint} --nar-checkpoint <exp-dir of stage 2>/<checkpoint>.pt"
            )
        if _untrained_half(checkpoint, "ar") and not allow_untrained:
            raise UntrainedHalfError(
                f"checkpoint {checkpoint}: its AR half was never trained (a --train-stage 2 run without a trained "
                "AR; see its trained_by), so it would synthesize noise. Pass --ar-checkpoint <a stage-1 or "
                f"stage-0 checkpoint> --nar-checkpoint {checkpoint}, or --allow-untrained true to synthesize anyway"
            )
        if not _half(state, "nar_"):
            raise CheckpointLoadError(
                f"checkpoint {checkpoint} has no NAR weights (no nar_* keys): pass a NAR checkpoint with "
                "--nar-checkpoint together with --ar-checkpoint"
            )
        sources = {"ar": str(checkpoint), "nar": str(checkpoint)}
        args = info.get("args")  # the training options (tokenizer, --filter-max-duration, ...)
        codec = info.get("codec")
    else:
        config, ar_state, symbols, ar_info = _read(ar_checkpoint, model_preset, overrides)
        nar_config, nar_state, nar_symbols, nar_info = _read(nar_checkpoint, model_preset, overrides)
        if _untrained_half(ar_checkpoint, "ar"):
            raise UntrainedHalfError(
                f"--ar-checkpoint {ar_checkpoint} was trained from scratch with --train-stage 2 only: "
                "its AR half was never trained; pass the stage-1 (or stage-0) checkpoint"
            )
        if _untrained_half(nar_checkpoint, "nar"):
            raise UntrainedHalfError(
                f"--nar-checkpoint {nar_checkpoint} was trained from scratch with --train-stage 1 only: its NAR "
                "half was never trained; pass the checkpoint of run.sh --train-stage 2"
            )
        a, b = config.to_dict(), nar_config.to_dict()
        diff = sorted(k for k in a if k not in ("dropout", "preset", "nar_parallel") and a.get(k) != b.get(k))
        if diff:
            detail = ", ".join(f"{k}: {a[k]} vs {b.get(k)}" for k in diff)
            raise CheckpointLoadError(
                f"--ar-checkpoint {ar_checkpoint} and --nar-checkpoint {nar_checkpoint} are different "
                f"architectures ({detail}): train both stages with the same --model-preset"
            )
        if symbols is not None and nar_symbols is not None and list(symbols) != list(nar_symbols):
            raise CheckpointLoadError(
                f"--ar-checkpoint {ar_checkpoint} and --nar-checkpoint {nar_checkpoint} use different "
                "text symbol tables: train both on the same prepared data (data/tokenized)"
            )
        if not _half(nar_state, "nar_"):
            raise CheckpointLoadError(f"--nar-checkpoint {nar_checkpoint} has no nar_* weights")
        state = {**_half(ar_state, "ar_"), **_half(nar_state, "nar_")}
        config = replace(config, nar_parallel=nar_config.nar_parallel)  # how the NAR decodes is its own
        symbols = symbols if symbols is not None else nar_symbols
        sources = {"ar": str(ar_checkpoint), "nar": str(nar_checkpoint)}
        args = ar_info.get("args")
        codec = ar_info.get("codec") or nar_info.get("codec")

    model = VALLE(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointLoadError(
            f"checkpoint weights do not fit the {config.preset} model: missing {missing[:8]}"
            f"{' ...' if len(missing) > 8 else ''}, unexpected {unexpected[:8]}"
            f"{' ...' if len(unexpected) > 8 else ''}; pass the matching --model-preset"
        )
    model.to(device).eval()
    from valle.models.checkpoint_import import describe_architecture

    logging.getLogger(__name__).info("model %s (AR from %s, NAR from %s)", describe_architecture(config, model),
                                     sources["ar"], sources["nar"])
    return LoadedModel(model=model, config=config, text_symbols=list(symbols) if symbols else None,
                       sources=sources, train_args=args if isinstance(args, dict) else None, codec=codec)
