"""``--init-from``: start training from our checkpoint, a published VALL-E X file or a lifeiteng one.

Reading and layout conversion live in ``valle.models.checkpoint_import.read_checkpoint``; this
module decides what training does with the result:
- the text symbol table: a checkpoint that carries one defines the ids; every symbol the data
  uses must be in it, else training stops before it starts and names the missing symbols
  (``--init-mismatch resize`` instead appends them and grows the text tables);
- loading is strict by default: any missing, unexpected or differently shaped tensor is an
  error that names it; ``--init-mismatch resize`` grows or shrinks tables whose shapes differ
  only in the number of rows, keeping the overlapping rows, and reports each change.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

log = logging.getLogger(__name__)

MODEL_OVERRIDES = ("d_model", "nhead", "num_layers", "dim_feedforward", "dropout", "prefix_mode",
                   "text_vocab_size", "num_languages", "num_quantizers", "share_embedding",
                   "nar_parallel")


def model_overrides(args) -> Dict[str, object]:
    return {k: getattr(args, k) for k in MODEL_OVERRIDES if getattr(args, k, None) is not None}


def read_init_checkpoint(path: Path, model_preset: Optional[str], overrides: Dict[str, object]):
    """(ModelConfig, state_dict, text_symbols | None, info) of ``path``, errors naming the file."""
    from valle.models.checkpoint_import import read_checkpoint

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--init-from {path}: file not found")
    try:
        try:
            return read_checkpoint(path, model_preset=model_preset, **overrides)
        except ValueError as e:
            if model_preset is not None or "published VALL-E X format" not in str(e):
                raise
            log.info("--init-from %s: weights only (published VALL-E X format); using --model-preset vallex "
                     "with sizes inferred from the tensor shapes", path)
            return read_checkpoint(path, model_preset="vallex", **overrides)
    except (KeyError, RuntimeError, ValueError) as e:
        raise ValueError(f"--init-from {path}: {e}") from e


def missing_symbols(data_symbols: Sequence[str], ckpt_symbols: Sequence[str]) -> List[str]:
    have = set(ckpt_symbols)
    return [s for s in data_symbols if s not in have]


def merge_symbol_tables(path: Path, data_symbols: Sequence[str], ckpt_symbols: Optional[Sequence[str]],
                        mismatch: str, used_symbols: Optional[Sequence[str]] = None) -> List[str]:
    """The table training uses: the checkpoint's, extended with the data's missing symbols on resize.

    ``used_symbols`` (symbols that occur in the training cuts) is what must be covered; the
    data table's bookkeeping entries (``<pad>``, ``<unk>``) need not be.
    """
    if ckpt_symbols is None:
        return list(data_symbols)
    needed = list(used_symbols) if used_symbols is not None else list(data_symbols)
    missing = missing_symbols(needed, ckpt_symbols)
    if not missing:
        return list(ckpt_symbols)
    if mismatch != "resize":
        shown = " ".join(missing[:40]) + (" ..." if len(missing) > 40 else "")
        raise ValueError(
            f"--init-from {path}: its text symbol table lacks {len(missing)} symbol(s) the training data "
            f"uses: {shown}. Tokenize the data with the checkpoint's frontend, or pass "
            f"--init-mismatch resize to append them (new rows start untrained)"
        )
    log.info("--init-mismatch resize: appending %d symbols to the checkpoint's table: %s",
             len(missing), " ".join(missing))
    return list(ckpt_symbols) + missing


def published_vallex_symbols():
    """The 70-symbol table of the published VALL-E X model (its files carry no table)."""
    import json

    import valle.text

    path = Path(valle.text.__file__).parent / "data" / "vallex_symbols.json"
    return list(json.loads(path.read_text(encoding="utf-8"))["symbols"])


def load_into(model: torch.nn.Module, state: Dict[str, torch.Tensor], path: Path, mismatch: str) -> List[str]:
    """Load ``state`` into ``model``; strict, or resize vocabulary tables. Returns the resize report."""
    from valle.models.checkpoint_import import resize_embeddings

    own = model.state_dict()
    report: List[str] = []
    if mismatch == "resize":
        try:
            state, changes = resize_embeddings(state, model)
        except ValueError as e:
            raise ValueError(f"--init-from {path}: {e}; pass the checkpoint's --model-preset and sizes") from e
        for c in changes:
            line = f"{c['key']}: {c['change']} " + (
                f"{c['old_rows']} -> {c['new_rows']} rows" if "old_rows" in c else f"({c.get('rows')} rows)")
            report.append(line)
            log.info("--init-mismatch resize: %s", line)
        model.load_state_dict(state, strict=True)
        return report
    bad_shapes = [k for k in state if k in own and state[k].shape != own[k].shape]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if bad_shapes or missing or unexpected:
        details = []
        if bad_shapes:
            details.append("shape mismatch " + ", ".join(
                f"{k} {list(state[k].shape)} vs model {list(own[k].shape)}" for k in bad_shapes[:6]))
        if missing:
            details.append(f"missing {missing[:6]}{' ...' if len(missing) > 6 else ''}")
        if unexpected:
            details.append(f"unexpected {unexpected[:6]}{' ...' if len(unexpected) > 6 else ''}")
        raise ValueError(
            f"--init-from {path} does not fit the model: {'; '.join(details)}. Pass the checkpoint's "
            "--model-preset and sizes, or --init-mismatch resize for vocabulary table sizes"
        )
    model.load_state_dict(state, strict=True)
    return report
