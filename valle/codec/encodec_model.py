"""Encodec 24 kHz at 6 kbps: loading the weights, encoding audio to codes, decoding codes to audio.

VALL-E and VALL-E X model speech as the 8 codebooks (1024 entries each, 75 frames per second) of
the causal 24 kHz Encodec model at 6 kbps. The ``encodec`` backend (encodec_codec) wraps this model
in the codec interface; stage 3's fast CPU and GPU paths use the model directly.

Weights come from one of three places, chosen explicitly (``--codec encodec[:WEIGHTS]``):

* ``None`` (default): encodec's published checkpoint, from the torch hub cache
  (``$TORCH_HOME/hub/checkpoints/encodec_24khz-d7cc33bc.th``) or downloaded into it.
  Offline, this fails within seconds with a message naming ``--codec encodec:PATH``,
  ``--codec codec2`` and ``--codec encodec:random`` instead of hanging in a socket.
* a path: a state dict (or ``{"model": state_dict}``) read with ``torch.load(weights_only=True)``.
* ``"random"``: a seeded random initialisation for tests and offline plumbing runs, independent of
  the global RNG and announced loudly, because codes from it are not speech tokens.

``model.valle_codec_weights`` records which one was used so outputs can carry it in metadata.
"""
from __future__ import annotations

import logging
import os
import socket
import warnings
from pathlib import Path
from typing import Optional, Union

import torch

from valle.codec.base import CodecError, to_mono
from valle.utils.network import can_reach_url

logger = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
BANDWIDTH = 6.0
NUM_CODEBOOKS = 8
CODEBOOK_SIZE = 1024
HOP_LENGTH = 320  # samples per frame: 24000 / 320 = 75 frames per second
FRAME_SHIFT = HOP_LENGTH / SAMPLE_RATE

CHECKPOINT_NAME = "encodec_24khz-d7cc33bc.th"
CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/encodec/v0/" + CHECKPOINT_NAME
RANDOM = "random"
RANDOM_SEED = 0
# Environment variable: seconds to wait for the download server before giving up.
DOWNLOAD_TIMEOUT_ENV = "VALLE_DOWNLOAD_TIMEOUT"

OFFLINE_HINT = (
    "Pass --codec encodec:PATH with a local copy of {name} (or any Encodec 24 kHz state dict), "
    "put that file into {cache}, pass --codec codec2 (a real speech codec that needs no weights; "
    "robotic 8 kHz speech), or --codec encodec:random for a plumbing run with randomly initialised "
    "weights (NOT real speech tokens)."
)


class CodecWeightsError(CodecError):
    """The codec weights cannot be found, downloaded or loaded; the message says what to do."""


def _build_model(init: bool = False):
    """The causal 24 kHz Encodec architecture at 6 kbps, in eval mode.

    ``init=False`` builds it on the meta device and allocates empty storage (seconds faster than
    running every initialiser); the caller must then load a complete state dict.
    """
    from encodec import EncodecModel

    # Same construction as EncodecModel.encodec_model_24khz: causal, weight norm, no segments,
    # no input normalisation (the 48 kHz model is the one that normalises).
    with warnings.catch_warnings():
        # encodec uses torch.nn.utils.weight_norm, deprecated in torch 2.x but what its
        # checkpoints' parameter names (weight_g, weight_v) need
        warnings.filterwarnings("ignore", message=".*weight_norm.* is deprecated", category=FutureWarning)
        if init:
            model = EncodecModel.encodec_model_24khz(pretrained=False)
        else:
            with torch.device("meta"):
                model = EncodecModel.encodec_model_24khz(pretrained=False)
            model = model.to_empty(device="cpu")
    model.name = "encodec_24khz"
    model.set_target_bandwidth(BANDWIDTH)
    model.eval()
    return model


_RANDOM_STATE: dict = {}


def _random_model():
    """Seeded random weights whose codes vary with the input, without touching the global RNG.

    encodec initialises codebooks to zeros for k-means on the first training batch, which would
    make every code 0; we draw the codebooks instead, scaled to the residual each stage sees, so
    tests comparing codes compare something that can differ. The weights are made once per
    process and reused.
    """
    if _RANDOM_STATE:
        model = _build_model()
        model.load_state_dict(_RANDOM_STATE, strict=True)
        return model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        model = _build_model(init=True)
    generator = torch.Generator().manual_seed(RANDOM_SEED)
    # An untrained encoder's output is nearly constant (its biases) with a small variation;
    # centre the codebooks on that constant and spread them like the variation, measured on one
    # second of seeded, amplitude-modulated noise.
    t = torch.arange(SAMPLE_RATE) / SAMPLE_RATE
    probe = torch.randn(SAMPLE_RATE, generator=generator) * 0.1 * (1 + torch.sin(2 * torch.pi * 3 * t))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same floats whatever the thread count of the caller
    try:
        with torch.inference_mode():
            emb = model.encoder(probe.view(1, 1, -1))[0]  # [dimension, frames]
    finally:
        torch.set_num_threads(threads)
    centre, spread = emb.mean(dim=1), emb.std(dim=1)
    for stage, layer in enumerate(model.quantizer.vq.layers):
        codebook = layer._codebook
        embed = torch.randn(codebook.embed.shape, generator=generator) * spread * 0.5 ** (stage + 1)
        if stage == 0:
            embed += centre
        codebook.embed.copy_(embed)
        codebook.embed_avg.copy_(embed)
        codebook.inited.fill_(1.0)
    _RANDOM_STATE.update({k: v.detach().clone() for k, v in model.state_dict().items()})
    return model


def hub_checkpoint_path() -> Path:
    """Where torch hub keeps (or would download) the published checkpoint."""
    return Path(torch.hub.get_dir()) / "checkpoints" / CHECKPOINT_NAME


def _download_pretrained(target: Path) -> None:
    timeout = float(os.environ.get(DOWNLOAD_TIMEOUT_ENV, "10"))
    hint = OFFLINE_HINT.format(name=CHECKPOINT_NAME, cache=target.parent)
    if not can_reach_url(CHECKPOINT_URL, timeout):
        raise CodecWeightsError(
            f"Encodec weights are not in the torch hub cache ({target}) and {CHECKPOINT_URL} "
            f"cannot be reached (no network within {timeout:g} s). {hint}"
        )
    logger.info("downloading %s to %s", CHECKPOINT_URL, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(max(timeout, 30.0))
    try:
        # hash_prefix: the checkpoint name carries the first digits of its sha256.
        torch.hub.download_url_to_file(CHECKPOINT_URL, str(target), hash_prefix="d7cc33bc")
    except Exception as e:
        raise CodecWeightsError(f"downloading {CHECKPOINT_URL} failed: {e}. {hint}") from e
    finally:
        socket.setdefaulttimeout(previous)


def _read_state_dict(path: Path) -> dict:
    if not path.is_file():
        raise CodecWeightsError(
            f"--codec encodec:{path}: no such file. Give the path of an Encodec 24 kHz state "
            f"dict (e.g. {CHECKPOINT_NAME}), or encodec:random for untrained weights."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CodecWeightsError(
            f"--codec encodec:{path}: cannot be read as a torch state dict ({e})."
        ) from e
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise CodecWeightsError(f"--codec encodec:{path}: expected a state dict, got {type(state).__name__}.")
    return state


def _load_state(model, state: dict, path: Path) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CodecWeightsError(
            f"--codec encodec:{path}: not an Encodec 24 kHz state dict ({str(e).splitlines()[0]} ...). "
            f"The file must hold the weights of EncodecModel.encodec_model_24khz()."
        ) from e


def weights_label(weights: Optional[Union[str, os.PathLike]]) -> str:
    """What ``model.valle_codec_weights`` says for ``load_encodec_model(weights)``."""
    if weights is None:
        return "pretrained:" + CHECKPOINT_NAME
    return RANDOM if str(weights) == RANDOM else str(weights)


def load_encodec_model(weights: Optional[Union[str, os.PathLike]] = None, device: Union[str, torch.device] = "cpu"):
    """The Encodec 24 kHz model at 6 kbps (8 codebooks), in eval mode on ``device``.

    ``weights``: ``None`` for the published checkpoint (hub cache or download), a path to a
    state dict, or ``"random"``. The choice is kept in ``model.valle_codec_weights``.
    """
    if weights is not None and str(weights) == RANDOM:
        model = _random_model()
        model.valle_codec_weights = RANDOM
        logger.warning(
            "!!! Encodec with RANDOM weights (seed %d): codes are NOT REAL speech tokens; "
            "use only for tests and offline plumbing runs !!!", RANDOM_SEED
        )
    elif weights is not None:
        path = Path(weights)
        model = _build_model()
        _load_state(model, _read_state_dict(path), path)
        model.valle_codec_weights = weights_label(path)
    else:
        target = hub_checkpoint_path()
        if not target.is_file():
            _download_pretrained(target)
        model = _build_model()
        _load_state(model, _read_state_dict(target), target)
        model.valle_codec_weights = weights_label(None)
    model.eval()
    return model.to(device)


def to_codec_input(wav: torch.Tensor, sr: int) -> torch.Tensor:
    """Mono ``[1, samples]`` at 24 kHz, as ``encodec.utils.convert_audio`` makes it (see base.to_mono)."""
    return to_mono(wav, sr, SAMPLE_RATE)


@torch.inference_mode()
def encode_audio(model, wav: torch.Tensor, sr: int) -> torch.Tensor:
    """Codes ``LongTensor[frames, 8]`` of ``wav`` (``[channels, samples]`` at ``sr``)."""
    device = next(model.parameters()).device
    x = to_codec_input(wav, sr).to(device)
    frames = model.encode(x.unsqueeze(0))
    codes = torch.cat([codes for codes, _ in frames], dim=-1)  # [1, 8, T]
    return codes[0].transpose(0, 1).cpu()


@torch.inference_mode()
def decode_codes(model, codes: torch.Tensor) -> torch.Tensor:
    """24 kHz mono waveform ``[frames * 320]`` of codes ``[frames, 8]``."""
    if codes.dim() != 2 or codes.shape[1] != NUM_CODEBOOKS:
        raise ValueError(f"decode_codes expects codes of shape [frames, {NUM_CODEBOOKS}], got {tuple(codes.shape)}")
    device = next(model.parameters()).device
    codes = codes.to(device=device, dtype=torch.long).transpose(0, 1).unsqueeze(0)  # [1, 8, T]
    wav = model.decode([(codes, None)])
    return wav[0, 0].cpu()
