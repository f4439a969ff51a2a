"""Read model checkpoints of three origins into (ModelConfig, state_dict, text_symbols, info).

(a) ours: ``{"model", "model_config", "text_symbols", ...}`` (valle/train/checkpoint.py);
(b) the published VALL-E X file: ``{"model": state_dict}`` with no hyper-parameters, so a
    preset names the family and sizes are inferred from tensor shapes;
(c) lifeiteng/vall-e: hyper-parameters (``decoder_dim``, ``nhead``, ``num_decoder_layers``,
    ``norm_first``, ``prefix_mode``, ...) at the top level, weights under ``"model"``.
Every file is read with ``torch.load(weights_only=True)``. ``resize_embeddings`` adapts a state
dict whose vocabularies differ from the model's (``--init-mismatch resize``).
"""
from __future__ import annotations

import logging
import os
import pathlib
import re
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from valle.codec import CODECS, facts_of

from .config import PRESETS, ModelConfig, get_preset

log = logging.getLogger(__name__)

LIFEITENG_KEYS = ("decoder_dim", "num_decoder_layers")
# lifeiteng hyper-parameter -> ModelConfig field
LIFEITENG_MAP = {
    "decoder_dim": "d_model", "nhead": "nhead", "num_decoder_layers": "num_layers", "norm_first": "norm_first",
    "prefix_mode": "prefix_mode", "share_embedding": "share_embedding", "prepend_bos": "prepend_bos",
    "num_quantizers": "num_quantizers", "nar_scale_factor": "nar_scale_factor",
}


def _load(path: str) -> Any:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    # lifeiteng checkpoints carry their args, which may include pathlib paths; allow only those.
    safe = [pathlib.PosixPath, pathlib.PurePosixPath, pathlib.WindowsPath, pathlib.PureWindowsPath]
    try:
        with torch.serialization.safe_globals(safe):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # zip, pickle and storage errors all mean "not a readable checkpoint"
        size = os.path.getsize(path)
        raise ValueError(
            f"cannot read checkpoint {path} ({size} bytes): it is truncated or not a PyTorch checkpoint "
            f"saved with torch.save (re-copy or re-download it). Detail: {str(e).splitlines()[0][:300]}"
        ) from None


def _strip_prefix(sd: Dict[str, Tensor]) -> Dict[str, Tensor]:
    for prefix in ("module.", "_orig_mod."):
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
    return sd


def infer_shapes(sd: Dict[str, Tensor], path: str) -> Dict[str, Any]:
    """The ModelConfig fields that tensor shapes determine."""
    def need(key: str) -> Tensor:
        if key not in sd:
            raise ValueError(f"{path}: state dict has no {key!r}; this is not a VALL-E checkpoint "
                             f"(first keys: {list(sd)[:5]})")
        return sd[key]

    if any(k.startswith("ar_text_prenet") or k.startswith("ar_audio_prenet") for k in sd):
        raise ValueError(f"{path}: checkpoints trained with add_prenet=True are not supported")
    d = need("ar_text_embedding.word_embeddings.weight").shape[1]
    layer_ids = {int(m.group(1)) for k in sd for m in [re.match(r"ar_decoder\.layers\.(\d+)\.", k)] if m}
    if not layer_ids:
        raise ValueError(f"{path}: no ar_decoder.layers.* keys; scaled-xformer or other layouts are not supported")
    nq = len({int(m.group(1)) for k in sd for m in [re.match(r"nar_audio_embeddings\.(\d+)\.", k)] if m})
    ar_rows = need("ar_audio_embedding.word_embeddings.weight").shape[0]
    nar_d = need("nar_text_embedding.word_embeddings.weight").shape[1]
    found = dict(
        d_model=d,
        num_layers=max(layer_ids) + 1,
        dim_feedforward=need("ar_decoder.layers.0.linear1.weight").shape[0],
        text_vocab_size=need("ar_text_embedding.word_embeddings.weight").shape[0],
        num_audio_tokens=need("ar_predict_layer.weight").shape[0] - 1,
        num_languages=sd["ar_language_embedding.word_embeddings.weight"].shape[0]
        if "ar_language_embedding.word_embeddings.weight" in sd else 0,
        norm_first="ar_decoder.norm.weight" in sd,
        num_quantizers=nq or 8,
        nar_scale_factor=nar_d / d,
    )
    found["prepend_bos"] = ar_rows == found["num_audio_tokens"] + 2
    # the codec whose codebook size the audio tables have (files from before codecs were recorded)
    by_size = {facts_of(name)["codebook_size"]: name for name in CODECS}
    found["codec"] = by_size.get(found["num_audio_tokens"], "encodec")
    return found


def _shared(sd: Dict[str, Tensor]) -> Optional[bool]:
    a, b = sd.get("nar_predict_layers.0.weight"), sd.get("nar_audio_embeddings.2.word_embeddings.weight")
    if a is None or b is None:
        return None
    return a.data_ptr() == b.data_ptr() or bool(torch.equal(a, b))


def read_checkpoint(path, model_preset: Optional[str] = None, **overrides
                    ) -> Tuple[ModelConfig, Dict[str, Tensor], Optional[List[str]], Dict[str, Any]]:
    """Read ``path`` and return (config, state_dict, text_symbols or None, info).

    ``model_preset`` is required for the published VALL-E X format (it stores no
    hyper-parameters); shapes then fix sizes and vocabularies, and the head count keeps the
    preset's head width (64 for ``vallex``: 4 heads at d_model 256) unless ``nhead`` is given.
    ``overrides`` replace config fields in every format (e.g. ``dropout``).
    ``info`` has ``format`` ("valle", "vallex-published" or "lifeiteng"), ``path``,
    ``inferred`` (fields taken from shapes) and ``extra`` (other top-level entries); our own
    format adds ``train_stage`` and ``args``.
    """
    path = str(path)
    obj = _load(path)
    if isinstance(obj, dict) and obj and all(isinstance(v, Tensor) for v in obj.values()) and "model" not in obj:
        obj = {"model": obj}  # a bare state dict
    if not isinstance(obj, dict) or not isinstance(obj.get("model"), dict):
        raise ValueError(f"{path} is not a model checkpoint: expected a dict with a 'model' state dict, "
                         f"got {type(obj).__name__} with keys {list(obj)[:8] if isinstance(obj, dict) else '-'}")
    sd = _strip_prefix({k: v for k, v in obj["model"].items()})
    overrides = {k: v for k, v in overrides.items() if v is not None}
    info: Dict[str, Any] = {"path": path, "inferred": {}, "extra": sorted(k for k in obj if k != "model")}
    text_symbols = obj.get("text_symbols")

    if "model_config" in obj:
        info["format"] = "valle"
        cfg = dict(obj["model_config"])
        check_against_stored(path, cfg, model_preset, overrides)
        cfg.update(overrides)
        config = ModelConfig.from_dict(cfg)
        info["train_stage"] = obj.get("train_stage")
        info["args"] = obj.get("args")
        info["codec"] = obj.get("codec")  # the facts of the codec the model was trained on
    elif any(k in obj for k in LIFEITENG_KEYS):
        info["format"] = "lifeiteng"
        if obj.get("add_prenet"):
            raise ValueError(f"{path}: trained with add_prenet=True, which valle does not implement")
        name = str(obj.get("model_name", "valle")).lower().replace("-", "")
        if name not in ("valle", "vallex"):
            raise ValueError(f"{path}: model_name {obj.get('model_name')!r} is not supported (only VALL-E)")
        if obj.get("scaling_xformers"):
            raise ValueError(f"{path}: trained with scaling_xformers=True, which valle does not implement")
        inferred = infer_shapes(sd, path)
        params = {field: obj[key] for key, field in LIFEITENG_MAP.items() if key in obj and obj[key] is not None}
        params.update(inferred)  # shapes are the truth where the two disagree
        shared = _shared(sd)
        if shared is not None:
            params["share_embedding"] = shared
        params.update(overrides)
        info["inferred"] = inferred
        config = get_preset(model_preset or "valle", **params)
        if "text_tokens" in obj:
            info["text_tokens_file"] = obj["text_tokens"]
    else:
        info["format"] = "vallex-published"
        if model_preset is None:
            raise ValueError(f"{path} holds only weights (the published VALL-E X format): name its architecture "
                             f"with --model-preset (e.g. vallex); presets: {sorted(PRESETS)}")
        if model_preset not in PRESETS:
            raise ValueError(f"unknown model preset {model_preset!r}; choose one of {sorted(PRESETS)}")
        inferred = infer_shapes(sd, path)
        shared = _shared(sd)
        if shared is not None:
            inferred["share_embedding"] = shared
        base = PRESETS[model_preset]
        if "nhead" not in overrides:
            head_dim = base["d_model"] // base["nhead"]
            if inferred["d_model"] % head_dim == 0:
                inferred["nhead"] = inferred["d_model"] // head_dim
        heads = overrides.get("nhead", inferred.get("nhead", base["nhead"]))
        info["assumed"] = {"nhead": heads}
        log.info("%s holds only weights, which do not record the number of attention heads: assuming %d "
                 "(%s; pass --nhead if the model was trained with another count)", path, heads,
                 "--nhead" if "nhead" in overrides else f"head width {base['d_model'] // base['nhead']} of preset "
                 f"{model_preset}")
        params = dict(inferred)
        params.update(overrides)
        info["inferred"] = inferred
        config = get_preset(model_preset, **params)
    return config, sd, text_symbols, info


# Fields a checkpoint's stored config fixes: an option that contradicts one builds another model.
ARCHITECTURE_FIELDS = ("d_model", "nhead", "num_layers", "dim_feedforward", "prefix_mode", "num_languages",
                       "num_quantizers")


def check_against_stored(path, stored: Dict[str, Any], model_preset: Optional[str], overrides: Dict[str, Any],
                         fix: str = "start a new model without this file") -> None:
    """Refuse a --model-preset or size option that contradicts the config stored in ``path``.

    The stored config wins (it is what the weights were trained as); agreeing options are fine."""
    problems = []
    stored_preset = stored.get("preset")
    if model_preset is not None and stored_preset not in (None, "custom") and model_preset != stored_preset:
        problems.append(f"--model-preset {model_preset} (the file is preset {stored_preset})")
    for k in ARCHITECTURE_FIELDS:
        if k in overrides and overrides[k] is not None and k in stored and overrides[k] != stored[k]:
            problems.append(f"--{k.replace('_', '-')} {overrides[k]} (the file has {stored[k]})")
    if problems:
        raise ValueError(
            f"{path} stores its architecture, and {', '.join(problems)} contradict(s) it; the file's own "
            f"config is what its weights were trained as: drop the option(s), or {fix}"
        )


def describe_architecture(config, model=None) -> str:
    """``vallex: d_model 256, 4 heads, 2 layers, FFN 1024, 7.75 M parameters`` for the load log."""
    text = (f"{config.preset}: d_model {config.d_model}, {config.nhead} heads, {config.num_layers} layers, "
            f"FFN {config.dim_feedforward}")
    if model is not None:
        seen, n = set(), 0
        for p in model.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                n += p.numel()
        text += f", {n / 1e6:.2f} M parameters"
    return text


def model_from_checkpoint(path, model_preset: Optional[str] = None, strict: bool = True, **overrides):
    """Build ``VALLE`` from ``path`` and load its weights; returns (model, text_symbols, info)."""
    from .valle import VALLE

    config, sd, symbols, info = read_checkpoint(path, model_preset, **overrides)
    model = VALLE(config)
    try:
        model.load_state_dict(sd, strict=strict)
    except RuntimeError as e:
        raise ValueError(f"{path}: weights do not fit the {config.preset} layout they were read as: "
                         f"{str(e)[:800]}") from None
    return model, symbols, info


# Tables whose row count is a vocabulary size and may be grown or cut.
RESIZABLE = re.compile(
    r"^(ar_text_embedding|nar_text_embedding|ar_audio_embedding|ar_language_embedding|nar_language_embedding)"
    r"\.word_embeddings\.weight$|^ar_predict_layer\.weight$|^nar_audio_embeddings\.0\.word_embeddings\.weight$"
)


def resize_embeddings(state_dict: Dict[str, Tensor], model) -> Tuple[Dict[str, Tensor], List[Dict[str, Any]]]:
    """Fit ``state_dict`` to ``model``'s vocabularies for ``--init-mismatch resize``.

    Vocabulary tables (text, language, AR audio / output, NAR codebook-0) keep their
    overlapping rows; new rows keep the model's fresh initialisation; language tables missing
    from the checkpoint are taken from the model. Any other difference is an error.
    Returns (a state dict that loads with strict=True, a report of every change).
    """
    target = model.state_dict()
    out: Dict[str, Tensor] = {}
    report: List[Dict[str, Any]] = []
    for key, want in target.items():
        have = state_dict.get(key)
        if have is None:
            if RESIZABLE.match(key):
                out[key] = want.clone()
                report.append({"key": key, "change": "new", "rows": int(want.shape[0])})
                continue
            raise ValueError(f"checkpoint has no {key!r}: only vocabulary tables can be added by resizing")
        if have.shape == want.shape:
            out[key] = have
            continue
        if not RESIZABLE.match(key) or have.shape[1:] != want.shape[1:]:
            raise ValueError(f"{key}: checkpoint shape {list(have.shape)} vs model {list(want.shape)}; "
                             f"only the row count of vocabulary tables can be resized")
        new = want.clone()
        n = min(have.shape[0], want.shape[0])
        new[:n] = have[:n].to(new.dtype)
        out[key] = new
        report.append({"key": key, "change": "grown" if want.shape[0] > have.shape[0] else "shrunk",
                       "old_rows": int(have.shape[0]), "new_rows": int(want.shape[0])})
    for key in state_dict:
        if key not in target:
            report.append({"key": key, "change": "dropped", "rows": int(state_dict[key].shape[0])})
    return out, report
