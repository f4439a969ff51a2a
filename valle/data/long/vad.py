"""Speech probability every 32 ms of a recording of any length, read in blocks (flat memory).

The detector is Silero VAD's sequence ONNX model, shipped inside the ``silero-vad`` wheel and
run with onnxruntime (one call per 512 frames, not per frame: ~150x real time on one core). The
audio is read with soundfile in blocks, downmixed and resampled to 16 kHz with a streaming soxr
resampler, so only one block and the per-frame probabilities (4 bytes per 32 ms, 450 kB an
hour) are held at any time.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import numpy as np

RATE = 16000
FRAME = 512  # samples per VAD frame at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous frame the model sees before each frame
FRAME_S = FRAME / RATE
BLOCK_FRAMES = 512  # frames per ONNX call
READ_SECONDS = 20.0  # seconds of source audio read per block


def silero_model_path() -> Path:
    """The sequence model inside the installed silero-vad wheel (nothing is downloaded)."""
    import importlib.util

    spec = importlib.util.find_spec("silero_vad")  # found, not imported: the package imports torch
    if spec is None or spec.origin is None:
        raise ValueError("the long layout needs the silero-vad package (its wheel ships the VAD weights): "
                         "pip install silero-vad")
    path = Path(spec.origin).parent / "data" / "silero_vad_16k_sequence.onnx"
    if not path.is_file():
        raise ValueError(f"{path} is missing: reinstall silero-vad (pip install --force-reinstall silero-vad)")
    return path


def stream_16k(path: Path, meta: Optional[Dict] = None, block_seconds: float = READ_SECONDS) -> Iterator[np.ndarray]:
    """The file's audio as mono 16 kHz float32 blocks, read and resampled incrementally; ``meta``
    receives the source's ``sampling_rate``, ``num_channels`` and decoded ``num_samples``."""
    import soundfile as sf
    import soxr

    with sf.SoundFile(str(path)) as f:
        sr = f.samplerate
        info = meta if meta is not None else {}
        info.update(sampling_rate=sr, num_channels=f.channels, num_samples=0)
        stream = None if sr == RATE else soxr.ResampleStream(sr, RATE, 1, dtype="float32")
        block = max(1, int(block_seconds * sr))
        while True:
            data = f.read(block, dtype="float32", always_2d=True)
            last = data.shape[0] < block
            info["num_samples"] += data.shape[0]
            mono = np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)
            if stream is not None:
                mono = stream.resample_chunk(mono, last=last)
            if mono.size:
                yield mono
            if last:
                return


class SileroVAD:
    """Per-frame speech probabilities; one instance per process (the session is reused)."""

    def __init__(self):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(silero_model_path()), sess_options=opts,
                                            providers=["CPUExecutionProvider"])

    def probabilities(self, blocks: Iterator[np.ndarray]) -> Tuple[np.ndarray, np.ndarray, int]:
        """Speech probability and level (dBFS) of each 32 ms frame of the concatenated ``blocks``,
        and their sample count."""
        h = np.zeros((1, 1, 128), dtype=np.float32)
        c = np.zeros((1, 1, 128), dtype=np.float32)
        context = np.zeros(CONTEXT, dtype=np.float32)
        pending = np.zeros(0, dtype=np.float32)
        probs, levels, total = [], [], 0

        def run(frames: np.ndarray):
            nonlocal h, c, context
            windows = np.empty((frames.shape[0], CONTEXT + FRAME), dtype=np.float32)
            windows[:, CONTEXT:] = frames
            windows[0, :CONTEXT] = context
            windows[1:, :CONTEXT] = frames[:-1, -CONTEXT:]
            context = frames[-1, -CONTEXT:].copy()
            p, h, c = self.session.run(["speech_probs", "hn", "cn"], {"input": windows, "h": h, "c": c})
            probs.append(np.asarray(p, dtype=np.float32).reshape(-1))
            levels.append((10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)).astype(np.float32))

        for block in blocks:
            total += block.size
            pending = np.concatenate([pending, block])
            n = pending.size // FRAME
            for i in range(0, n, BLOCK_FRAMES):
                k = min(BLOCK_FRAMES, n - i)
                run(pending[i * FRAME:(i + k) * FRAME].reshape(k, FRAME))
            pending = pending[n * FRAME:]
        if pending.size:
            last = np.zeros(FRAME, dtype=np.float32)
            last[:pending.size] = pending
            run(last.reshape(1, FRAME))
        if not probs:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32), total
        return np.concatenate(probs), np.concatenate(levels), total
