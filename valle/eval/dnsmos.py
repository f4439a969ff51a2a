"""DNSMOS P.835 (SIG, BAK, OVRL) from the ONNX models bundled in the ``speechmos`` wheel.

The clip protocol is Microsoft's ``dnsmos_local.py`` (which speechmos copies): audio at 16 kHz is
repeated until it is at least 9.01 s long, a 9.01 s window slides over it in 1 s hops, each window's
raw scores go through the published polynomial fit, and the clip score is the mean over windows.

Why not ``speechmos.dnsmos.run``: it imports librosa (several seconds, plus numba compilation on
the first mel spectrogram) for the P.808 model that P.835 does not need, and runs one ONNX call per
window.  Here the ONNX sessions are created once per backend object and the P.808 score is
opt-in (``p808=True``).
A 3 s clip is repeated to 12 s and scored in 3 windows; a 5 s clip in 1, a 4.4 s one (repeated to
17.6 s) in 8, an 8 s one in 7: each window run alone is ~0.55 CPU-s of convolutions (AMD EPYC, one
thread).  The windows overlap (1 s hop), so by default (``share_windows=True``) the convolutions
they share are computed once over the span they cover (valle/eval/dnsmos_shared.py): a clip costs
about (span seconds / 9.01) windows, 1.8 instead of 8 for a 4.4 s clip, with the same scores
(bit-identical raw outputs measured; ``share_windows=False`` runs the whole model on each window,
the reference path).  ``max_windows=N`` scores N windows evenly
spaced over the protocol's (not the official protocol: within ~0.03 on LibriSpeech clips, up to
0.17 on espeak-ng clips with long pauses for N=1; docs/evaluation.md).
"""
from __future__ import annotations

import logging
import os
from typing import Dict, List, Optional

import numpy as np

from valle.eval.audio import resample, to_mono

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
WINDOW_SECONDS = 9.01
HOP_SECONDS = 1.0
# the non-personalised polynomial fits of dnsmos_local.py (highest power first)
_POLY = {
    "sig": np.poly1d([-0.08397278, 1.22083953, 0.0052439]),
    "bak": np.poly1d([-0.13166888, 1.60915514, -0.39604546]),
    "ovrl": np.poly1d([-0.06766283, 1.11546468, 0.04602535]),
}


def _model_dir() -> str:
    import speechmos

    return os.path.join(os.path.dirname(speechmos.__file__), "dnsmos_models")


def clip_windows(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``[windows, 9.01 s]``: the clip doubled until long enough, then 1 s hops (dnsmos_local.py)."""
    win = int(WINDOW_SECONDS * sample_rate)
    if audio.size == 0:
        raise ValueError("DNSMOS needs a non-empty clip")
    while audio.size < win:
        audio = np.concatenate([audio, audio])
    hops = int(np.floor(audio.size / sample_rate) - WINDOW_SECONDS) + 1
    starts = [int(i * HOP_SECONDS * sample_rate) for i in range(max(hops, 1))]
    return np.stack([audio[s : s + win] for s in starts if s + win <= audio.size])


class DNSMOS:
    name = "dnsmos-p835 (speechmos onnx)"

    def __init__(self, threads: int = 1, p808: bool = False, max_windows: Optional[int] = None,
                 share_windows: bool = True):
        import onnxruntime as ort

        if max_windows is not None and max_windows < 1:
            raise ValueError(f"DNSMOS --dnsmos-max-windows / max_windows {max_windows}: give 1 or more "
                             "(or leave it out for the official protocol)")
        self.max_windows = max_windows
        if max_windows:
            self.name = f"{self.name}, at most {max_windows} window{'s' if max_windows > 1 else ''} per clip"

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        model = os.path.join(_model_dir(), "sig_bak_ovr.onnx")
        self._session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        self._shared = None
        if share_windows:
            try:
                from valle.eval.dnsmos_shared import SharedWindows

                self._shared = SharedWindows(model, opts)
            except ImportError as e:  # same scores without it, each window costs a whole model run
                log.warning("DNSMOS: overlapping windows are scored one by one (%s); pip install onnx "
                            "to compute their shared convolutions once", e)
        self._p808 = None
        if p808:
            self._p808 = ort.InferenceSession(os.path.join(_model_dir(), "model_v8.onnx"), opts,
                                              providers=["CPUExecutionProvider"])

    def score(self, wav, sample_rate: int) -> Dict[str, float]:
        """``{"sig", "bak", "ovrl"}`` (and ``"p808"`` when asked for) of one clip."""
        audio = np.clip(resample(to_mono(wav), sample_rate, SAMPLE_RATE), -1.0, 1.0)
        windows = clip_windows(audio).astype(np.float32)
        if self.max_windows and len(windows) > self.max_windows:
            windows = windows[np.unique(np.linspace(0, len(windows) - 1, self.max_windows).round().astype(int))]
            raw = self._session.run(None, {"input_1": windows})[0]  # [windows, 3] = sig, bak, ovrl
        elif self._shared is not None and len(windows) > 1:  # consecutive windows 1 s apart
            raw = self._shared.raw(windows)
        else:
            raw = self._session.run(None, {"input_1": windows})[0]
        out = {k: float(np.mean(_POLY[k](raw[:, i]))) for i, k in enumerate(("sig", "bak", "ovrl"))}
        if self._p808 is not None:
            out["p808"] = float(np.mean([self._p808_window(w) for w in windows]))
        return out

    def _p808_window(self, window: np.ndarray) -> float:
        mel = p808_features(window[:-160])
        return float(self._p808.run(None, {"input_1": mel[None]})[0][0][0])


def p808_features(audio: np.ndarray) -> np.ndarray:
    """The P.808 model's input: 120-band log mel of 321-point frames, 10 ms hop (dnsmos_local.py)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=audio, sr=SAMPLE_RATE, n_fft=321, hop_length=160, n_mels=120)
    return ((librosa.power_to_db(mel, ref=np.max) + 40) / 40).T.astype(np.float32)


def windows_per_clip(seconds: List[float]) -> List[int]:
    """How many 9.01 s windows each clip costs (for planning and the benchmark)."""
    return [clip_windows(np.zeros(max(1, int(s * SAMPLE_RATE)), np.float32)).shape[0] for s in seconds]
