"""Synthesis decodes with the codec the checkpoint was trained on, and refuses any other.

A checkpoint records the codec facts of its training data (``ckpt["codec"]``, and the backend
name in ``model_config["codec"]``; files from before codecs were recorded are Encodec). With no
``--codec``, synthesis loads exactly that codec, weights included (``encodec:random`` data give
``encodec:random`` synthesis). ``--codec`` may name other weights of the same codec (a local copy
of the published Encodec weights), never another codec: its codes would mean nothing to the model.
"""
from __future__ import annotations

from typing import Dict, Optional, Union

import torch

from valle.codec import Codec, CodecError, check_same_codec, facts_of, load_codec


def checkpoint_codec_facts(loaded) -> Dict[str, object]:
    """The codec facts of a ``LoadedModel`` (recorded, or derived from its config)."""
    recorded = getattr(loaded, "codec", None)
    if recorded:
        return dict(recorded)
    return facts_of(getattr(loaded.config, "codec", "encodec"))


def load_checkpoint_codec(loaded, codec: Union[None, str, Codec] = None, device: str = "cpu") -> Codec:
    """The codec to synthesize with: ``codec`` (a spec or a loaded codec) if it is the checkpoint's
    codec, else a ``CodecError`` naming both; None loads the checkpoint's own."""
    trained = checkpoint_codec_facts(loaded)
    where = f"the checkpoint {loaded.sources.get('ar', '')}".rstrip()
    given = codec.facts() if isinstance(codec, Codec) else facts_of(codec or str(trained.get("codec") or trained.get("name")))
    check_same_codec(trained, given, where, f"--codec {given['codec']}" if codec is not None else "this valle")
    return codec if isinstance(codec, Codec) else load_codec(str(given["codec"]), device)


def check_prompt_codes(codes: torch.Tensor, codec: Codec, what: str = "the prompt codes") -> None:
    """Prompt codes given directly must be this codec's: its codebooks and code range."""
    if codes.dim() != 2 or codes.shape[1] < 1 or codes.shape[1] > codec.num_quantizers:
        raise CodecError(f"{what} have shape {tuple(codes.shape)}; {codec.name} codes are [frames, "
                         f"{codec.num_quantizers}]: encode the prompt audio with --codec {codec.spec}")
    if codes.numel() and int(codes.max()) >= codec.codebook_size:
        raise CodecError(
            f"{what} hold code {int(codes.max())}, outside {codec.name}'s 0..{codec.codebook_size - 1}: they "
            f"come from another codec (Encodec codes go up to 1023, codec2 codes to 255); encode the prompt "
            f"audio with --codec {codec.spec}, the codec this model was trained on"
        )


def resample_output(wav: torch.Tensor, rate: int, output_rate: Optional[int]) -> torch.Tensor:
    """``wav`` at ``output_rate`` (unchanged when it is None, 0 or ``rate``)."""
    if not output_rate or output_rate == rate:
        return wav
    import torchaudio

    return torchaudio.functional.resample(wav, rate, int(output_rate))
