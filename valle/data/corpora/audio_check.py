"""Open one audio file, decide whether it is usable, and find its speech span.

Stage 1 decodes every file completely (not just its header) because a truncated wav or a
damaged mp3 often has a plausible header and only fails, or silently shortens, when decoded
in stage 3 or in the middle of training. The decoded length is what the manifest records, so
lhotse's later reads agree with it. Multi-channel audio is kept as is in the manifest (the
downmix and resampling to 24 kHz happen in stage 3, from the untouched source file); silence
detection looks at the channel mean.
"""
from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

# decoded by libsndfile (AIFF included); the second group is listed so it is rejected by name, never skipped
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".aiff", ".aif")
UNSUPPORTED_SUFFIXES = (".m4a", ".aac", ".wma", ".mp4")
# Float files peaking beyond this many times full scale are rejected: Encodec expects [-1, 1].
MAX_PEAK = 2.0

# Energy-based trimming: 25 ms frames every 10 ms; a frame is speech if it is within
# TRIM_TOP_DB of the loudest frame and above an absolute floor; keep a little context.
TRIM_FRAME_S = 0.025
TRIM_HOP_S = 0.010
TRIM_TOP_DB = 40.0
TRIM_FLOOR_DBFS = -60.0
TRIM_PAD_S = 0.05


@dataclass
class AudioInfo:
    """What stage 1 needs to know about a readable file."""

    sampling_rate: int
    num_channels: int
    num_samples: int
    speech_start: float  # seconds; 0 unless trimming found leading silence
    speech_end: float  # seconds; the duration unless trimming found trailing silence

    @property
    def duration(self) -> float:
        return self.num_samples / self.sampling_rate


class AudioProblem(Exception):
    """A file that cannot be used; ``reason`` is a key of rejects.REJECT_REASONS."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def wav_truncation(path: Path) -> Optional[str]:
    """Return a message if a RIFF/WAVE file's data chunk is shorter than its header says.

    libsndfile reads such files without complaint (it clamps to the bytes present), so a
    copy interrupted half-way would otherwise enter the corpus as a shorter utterance whose
    transcript no longer matches. Streaming writers that leave the size at 0 or 0xFFFFFFFF
    are not flagged.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            pos += 8
            if cid == b"data":
                if csize in (0, 0xFFFFFFFF):
                    return None
                have = size - pos
                if have < csize:
                    return f"wav data chunk declares {csize} bytes but only {have} are present (truncated file)"
                return None
            pos += csize + (csize & 1)
            f.seek(pos)


def speech_span(samples: np.ndarray, sr: int) -> Tuple[float, float]:
    """Leading/trailing silence detection on mono ``samples`` (float in [-1, 1]).

    Returns (start, end) in seconds; (0, 0) when no frame counts as speech.
    """
    n = samples.shape[0]
    frame = max(1, int(round(TRIM_FRAME_S * sr)))
    hop = max(1, int(round(TRIM_HOP_S * sr)))
    if n < frame:
        return 0.0, n / sr
    num_frames = 1 + (n - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(num_frames)[:, None]
    energy = np.mean(samples[idx].astype(np.float64) ** 2, axis=1)
    db = 10.0 * np.log10(energy + 1e-12)
    threshold = max(db.max() - TRIM_TOP_DB, TRIM_FLOOR_DBFS)
    voiced = np.nonzero(db > threshold)[0]
    if voiced.size == 0:
        return 0.0, 0.0
    start = max(0.0, voiced[0] * hop / sr - TRIM_PAD_S)
    end = min(n / sr, (voiced[-1] * hop + frame) / sr + TRIM_PAD_S)
    return float(round(start, 4)), float(round(end, 4))


# A file longer than --filter-max-duration by more than this is rejected from its header alone, even
# with --trim-silence: an hour-long recording dropped into the folder must not be decoded whole.
HEADER_REJECT_MARGIN_S = 60.0


def too_long_detail(duration: float, max_duration: float) -> str:
    return (f"{duration:.3f} s > --filter-max-duration {max_duration} s; raise it with "
            f"--filter-max-duration {int(duration) + 1} or split the file")


def refuse_unreadable_kind(path: Path) -> None:
    """Reject, without opening it, what would hang (a FIFO) or cannot be decoded (AAC in .m4a)."""
    try:
        mode = os.stat(path).st_mode  # follows symlinks; a dangling one is unreadable_audio below
    except OSError:
        return
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file"
        raise AudioProblem("not_a_regular_file", f"{kind}, not a regular file: only regular audio files are read")
    if path.suffix.lower() in UNSUPPORTED_SUFFIXES:
        raise AudioProblem("unsupported_format", f"{path.suffix} is not decoded here; convert it: "
                                                 f"`ffmpeg -i '{path}' '{path.with_suffix('.wav')}'`")


def header_info(path: Path):
    """``soundfile.info`` of ``path``, read only once the file is known safe to open: a FIFO or
    device is refused unopened (it would block), a wav whose data chunk is truncated is corrupt (it
    would read short), a file that cannot be read or that libsndfile cannot open is unreadable.
    Raises AudioProblem; every stage that opens user audio asks this first."""
    import soundfile as sf

    refuse_unreadable_kind(path)
    try:
        truncated = wav_truncation(path)
    except OSError as e:  # a dangling link, no permission
        raise AudioProblem("unreadable_audio", f"cannot read file: {e}") from None
    if truncated:
        raise AudioProblem("corrupt_audio", truncated)
    try:
        return sf.info(str(path))
    except Exception as e:  # libsndfile's own error types, with empty messages at times
        raise AudioProblem("unreadable_audio", f"cannot open it: {str(e).strip() or type(e).__name__}") from None


def check_audio(path: Path, trim_silence: bool = False, max_duration: Optional[float] = None) -> AudioInfo:
    """Decode ``path`` fully; raise AudioProblem (unreadable/corrupt/zero/too long) or return its info.

    With ``max_duration``, files whose header already shows them too long (beyond what trimming
    could remove) are rejected without decoding them.
    """
    import soundfile as sf

    header = header_info(path)
    if max_duration is not None:
        limit = max_duration + (HEADER_REJECT_MARGIN_S if trim_silence else 0.0)
        if header.duration > limit:
            raise AudioProblem("too_long", too_long_detail(header.duration, max_duration))
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile raises its own error types, with empty messages at times
        msg = str(e).strip() or type(e).__name__
        raise AudioProblem("unreadable_audio", f"cannot decode audio ({msg})") from None
    num_samples, channels = data.shape
    if num_samples == 0:
        raise AudioProblem("zero_duration", "the file decodes to 0 samples")
    if not np.all(np.isfinite(data)):
        raise AudioProblem("corrupt_audio", "the decoded audio contains NaN or infinite samples")
    peak = float(np.abs(data).max())
    if peak > MAX_PEAK:
        raise AudioProblem("over_full_scale", f"samples peak at {peak:.1f}x full scale; normalise it, e.g. "
                                              f"`sox --norm=-1 '{path}' out.wav`")
    duration = num_samples / sr
    start, end = 0.0, duration
    if trim_silence:
        start, end = speech_span(data.mean(axis=1), sr)
        if end <= start:
            raise AudioProblem("zero_duration", "no speech found: the file is silent (--trim-silence)")
    return AudioInfo(sr, channels, num_samples, start, end)
