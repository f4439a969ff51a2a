"""Speaker embeddings for similarity scoring: cosine of synthesized vs prompt / reference.

    enc = load_speaker("resemblyzer")     # offline: GE2E LSTM bundled in the resemblyzer wheel
    enc = load_speaker("wavlm-sv[:dir]")  # WavLM + x-vector head (transformers), paper-style
    enc = load_speaker("ecapa[:dir]")     # ECAPA-TDNN (speechbrain, VoxCeleb)
    e = enc.embed(wav, sample_rate); cosine(e1, e2)

The VALL-E paper used a WavLM-TDNN verification model; ``wavlm-sv`` (microsoft/wavlm-base-plus-sv)
and ``ecapa`` are the closest ones a local checkpoint gives; GE2E numbers run higher and are only
comparable with themselves (docs/evaluation.md).  Weights are read from the given directory or
the Hugging Face cache, never downloaded.
"""
from __future__ import annotations

import importlib

from pathlib import Path
from typing import Optional

import numpy as np

from valle.eval.audio import AudioInputError, resample, rms_dbfs, to_mono
from valle.eval.backend_errors import BackendUnavailable

SPEAKER_BACKENDS = ("resemblyzer", "wavlm-sv[:dir]", "ecapa[:dir]")
SAMPLE_RATE = 16000


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


class ResemblyzerSpeaker:
    """GE2E: ~1.3 partial windows of 1.6 s per second of speech through a 3-layer LSTM.

    The LSTM runs with ``threads`` torch threads (the caller's count is restored after each call):
    with torch's default of one thread per core, on two busy cores, a 5 s clip cost 2.0 CPU-s
    instead of 0.07 (threads spinning for work; docs/evaluation.md, Speed)."""

    name = "resemblyzer-ge2e"

    def __init__(self, device: str = "cpu", threads: int = 1):
        from resemblyzer import VoiceEncoder

        self._encoder = VoiceEncoder(device, verbose=False)
        self.threads = max(1, int(threads))

    def embed(self, wav, sample_rate: int) -> np.ndarray:
        from resemblyzer import preprocess_wav

        audio = resample(to_mono(wav), sample_rate, SAMPLE_RATE)  # scipy: faster than preprocess_wav's librosa
        if not np.isfinite(rms_dbfs(audio)):  # digital silence: resemblyzer would divide by zero
            raise AudioInputError("no speech for a speaker embedding (the clip is digital silence)")
        audio = preprocess_wav(audio)
        if audio.size < SAMPLE_RATE // 4:
            raise AudioInputError("no speech for a speaker embedding (under 0.25 s after the voice-activity trim)")
        import torch

        caller = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return self._encoder.embed_utterance(audio)
        finally:
            torch.set_num_threads(caller)


def _local_model_dir(backend: str, given: str, hub_repo: str, needs: str) -> Path:
    from valle.eval.weights import hf_hub_snapshot

    where = Path(given) if given else hf_hub_snapshot(hub_repo)
    tried = str(where) if where else f"the Hugging Face cache (models--{hub_repo.replace('/', '--')})"
    if where is None or not (where / needs).is_file():
        raise BackendUnavailable(backend, f"no {needs} in {tried}", "--speaker resemblyzer",
                                 f"put a local copy of {hub_repo} there or pass {backend.split()[-1]}:<dir>")
    return where


def _backend_package(backend: str, package: str, module: str = ""):
    """``module`` (default: ``package``) imported, or BackendUnavailable saying to install ``package``."""
    try:
        return importlib.import_module(module or package)
    except ImportError as e:
        raise BackendUnavailable(backend, f"the {package} package is not installed ({e})",
                                 "--speaker resemblyzer", f"pip install {package}") from e


class WavLMSpeaker:
    """transformers' WavLMForXVector (e.g. microsoft/wavlm-base-plus-sv) from a local directory."""

    def __init__(self, model_dir: str = "", device: str = "cpu"):
        where = _local_model_dir("--speaker wavlm-sv", model_dir, "microsoft/wavlm-base-plus-sv", "config.json")
        transformers = _backend_package("--speaker wavlm-sv", "transformers")
        self._features = transformers.AutoFeatureExtractor.from_pretrained(str(where), local_files_only=True)
        self._model = transformers.WavLMForXVector.from_pretrained(str(where), local_files_only=True).eval().to(device)
        self.device = device
        self.name = f"wavlm-xvector ({where.name})"

    def embed(self, wav, sample_rate: int) -> np.ndarray:
        import torch

        audio = resample(to_mono(wav), sample_rate, SAMPLE_RATE)
        inputs = self._features(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            emb = self._model(**inputs).embeddings[0]
        return torch.nn.functional.normalize(emb, dim=-1).cpu().numpy()


class EcapaSpeaker:
    """speechbrain's ECAPA-TDNN speaker-verification model from a local directory."""

    def __init__(self, model_dir: str = "", device: str = "cpu"):
        where = _local_model_dir("--speaker ecapa", model_dir, "speechbrain/spkrec-ecapa-voxceleb", "hyperparams.yaml")
        speaker = _backend_package("--speaker ecapa", "speechbrain", "speechbrain.inference.speaker")
        self._model = speaker.EncoderClassifier.from_hparams(source=str(where), savedir=str(where), run_opts={"device": device})
        self.name = f"ecapa-tdnn ({where.name})"

    def embed(self, wav, sample_rate: int) -> np.ndarray:
        import torch

        audio = torch.from_numpy(resample(to_mono(wav), sample_rate, SAMPLE_RATE))[None]
        with torch.inference_mode():
            return self._model.encode_batch(audio)[0, 0].cpu().numpy()


def load_speaker(name: str = "resemblyzer", device: str = "cpu", model_dir: Optional[str] = None, threads: int = 1):
    key, _, path = (name or "").partition(":")
    path = model_dir or path
    if key == "resemblyzer":
        return ResemblyzerSpeaker(device, threads)
    if key in ("wavlm-sv", "wavlm"):
        return WavLMSpeaker(path, device)
    if key == "ecapa":
        return EcapaSpeaker(path, device)
    raise ValueError(f"unknown speaker backend {name!r}: choose one of {', '.join(SPEAKER_BACKENDS)}")
