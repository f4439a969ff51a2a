"""Produce the wavs a test list is scored on: a checkpoint's synthesis and the reference rows.

- ``synthesize`` runs ``valle.infer.Synthesizer`` (the code behind ``valle.bin.infer``) on each row
  into ``<dir>/<id>.wav`` with its JSON sidecar (the length-guard flag is read from it later);
  a row that fails is reported with its reason and the others go on.
- ``ground truth`` is the reference recordings themselves.
- ``codec resynthesis`` is each reference through the codec (encode, decode): the ceiling a
  model predicting the codec's tokens perfectly would reach (VALL-E Table 2).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Optional

from valle.eval.testlist import TestItem
from valle.utils.progress import progress

log = logging.getLogger("valle.eval")


def synthesize(items: List[TestItem], checkpoint: Path, out_dir: Path, device: str = "cpu",
               codec: Optional[str] = None, seed: int = 0, **sampling) -> Dict[str, str]:
    """Write ``out_dir/<id>.wav`` per item; returns ``{id: error}`` for the rows that failed."""
    from valle.bin.infer import write_outputs
    from valle.infer.synthesizer import SamplingOptions, Synthesizer

    synth = Synthesizer.from_checkpoints(checkpoint=checkpoint, codec=codec, device=device)
    failed = {}
    for item in progress(items, desc=f"synthesizing with {Path(checkpoint).name}", unit="utt"):
        options = SamplingOptions(seed=seed, **sampling)
        continual = item.mode == "continuation"
        try:
            result = synth.synthesize(item.text, prompt_text=item.prompt_text, prompt_audio=item.prompt_audio or None,
                                      language=item.language, options=options, continual=continual,
                                      prompt_seconds=0.0)  # whole: a cut prompt would leave its transcript behind
        except (ValueError, KeyError, RuntimeError, OSError) as e:
            failed[item.id] = f"synthesis failed: {e.args[0] if isinstance(e, KeyError) and e.args else e}"
            log.warning("%s: %s", item.id, failed[item.id])
            continue
        write_outputs(synth, result, options, out_dir / f"{item.id}.wav", text=item.text,
                      prompt_text=item.prompt_text, prompt_audio=item.prompt_audio, language=item.language,
                      continual=continual, checkpoint=str(checkpoint))
    return failed


def checkpoint_codec_spec(checkpoint: Optional[Path]) -> Optional[str]:
    """The ``--codec`` spec a checkpoint of ours records (None for files without one)."""
    from valle.train.provenance import read_meta

    if checkpoint is None or not Path(checkpoint).is_file():
        return None
    facts = read_meta(checkpoint).get("codec")
    return str(facts.get("codec") or facts.get("name")) if isinstance(facts, dict) else None


def codec_available(spec: Optional[str]) -> Optional[str]:
    """``None`` when the codec ``spec`` loads without a download, else why not (one line)."""
    from valle.codec import split_spec
    from valle.codec.encodec_model import RANDOM, hub_checkpoint_path

    name, weights = split_spec(spec)
    if name == "codec2" or weights == RANDOM:
        return None
    path = hub_checkpoint_path() if weights is None else Path(weights)
    if not path.is_file():
        return (f"no Encodec weights at {path} (evaluation never downloads): pass --codec encodec:PATH, "
                "or --reference-rows ground_truth")
    return None


def resynthesize(items: List[TestItem], out_dir: Path, codec_spec: Optional[str] = None,
                 device: str = "cpu") -> Dict[str, str]:
    """Each reference through the codec's encode+decode into ``out_dir/<id>.wav``; ``{id: error}``."""
    import soundfile as sf
    import torch

    from valle.codec import load_codec
    from valle.eval.audio import AudioInputError, read_audio
    from valle.utils.atomic import atomic_path

    codec = load_codec(codec_spec, device=device)
    failed = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in progress(items, desc=f"{codec.name} resynthesis", unit="utt"):
        try:
            wav, sr = read_audio(item.reference_audio, "reference_audio")
        except AudioInputError as e:
            failed[item.id] = str(e)
            continue
        try:
            codes = codec.encode(torch.from_numpy(wav), sr)
        except ValueError as e:  # e.g. audio below the codec's rate
            failed[item.id] = str(e)
            continue
        out = codec.decode(codes).float().cpu().clamp(-1, 1).numpy()
        with atomic_path(out_dir / f"{item.id}.wav") as tmp:
            sf.write(str(tmp), out, codec.sample_rate, subtype="PCM_16", format="WAV")
    return failed
