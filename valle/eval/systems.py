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

from valle.eval.testlist import CONTINUATION_PROMPT_SECONDS, TestItem

log = logging.getLogger("valle.eval")


def synthesize(items: List[TestItem], checkpoint: Path, out_dir: Path, device: str = "cpu",
               codec_weights: Optional[str] = None, seed: int = 0, **sampling) -> Dict[str, str]:
    """Write ``out_dir/<id>.wav`` per item; returns ``{id: error}`` for the rows that failed."""
    from valle.bin.infer import write_outputs
    from valle.infer.synthesizer import SamplingOptions, Synthesizer

    synth = Synthesizer.from_checkpoints(checkpoint=checkpoint, codec_weights=codec_weights, device=device)
    failed = {}
    for item in items:
        options = SamplingOptions(seed=seed, **sampling)
        continual = item.mode == "continuation"
        try:
            result = synth.synthesize(item.text, prompt_text=item.prompt_text, prompt_audio=item.prompt_audio or None,
                                      language=item.language, options=options, continual=continual,
                                      prompt_seconds=CONTINUATION_PROMPT_SECONDS if continual else 3.0)
        except (ValueError, KeyError, RuntimeError, OSError) as e:
            failed[item.id] = f"synthesis failed: {e.args[0] if isinstance(e, KeyError) and e.args else e}"
            log.warning("%s: %s", item.id, failed[item.id])
            continue
        write_outputs(synth, result, options, out_dir / f"{item.id}.wav", text=item.text,
                      prompt_text=item.prompt_text, prompt_audio=item.prompt_audio, language=item.language,
                      continual=continual, checkpoint=str(checkpoint))
    return failed


def codec_available(codec_weights: Optional[str]) -> Optional[str]:
    """``None`` when the codec can be loaded without a download, else why not (one line)."""
    from valle.data.codec import hub_checkpoint_path

    if codec_weights is None and not hub_checkpoint_path().is_file():
        return (f"no Encodec weights at {hub_checkpoint_path()} (evaluation never downloads): pass "
                "--codec-weights PATH, or --reference-rows ground_truth")
    if codec_weights not in (None, "random") and not Path(codec_weights).is_file():
        return f"--codec-weights {codec_weights} does not exist"
    return None


def resynthesize(items: List[TestItem], out_dir: Path, codec_weights: Optional[str] = None,
                 device: str = "cpu") -> Dict[str, str]:
    """Each reference through Encodec encode+decode into ``out_dir/<id>.wav``; ``{id: error}``."""
    import soundfile as sf
    import torch

    from valle.data.codec import SAMPLE_RATE, decode_codes, encode_audio, load_codec
    from valle.eval.audio import AudioInputError, read_audio
    from valle.utils.atomic import atomic_path

    codec = load_codec(codec_weights, device=device)
    failed = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in items:
        try:
            wav, sr = read_audio(item.reference_audio, "reference_audio")
        except AudioInputError as e:
            failed[item.id] = str(e)
            continue
        codes = encode_audio(codec, torch.from_numpy(wav)[None], sr)
        out = decode_codes(codec, codes).clamp(-1, 1).numpy()
        with atomic_path(out_dir / f"{item.id}.wav") as tmp:
            sf.write(str(tmp), out, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return failed
