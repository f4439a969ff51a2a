"""Fixtures for the codec tests: real speech files in several formats, rates and channel counts."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest


@pytest.fixture(scope="session")
def speech_files(samples_dir, espeak_wav, tmp_path_factory) -> List[Path]:
    """Real speech in several formats, rates and channel counts, plus espeak-ng speech."""
    made = tmp_path_factory.mktemp("espeak")
    files = [
        samples_dir / "ljspeech-mini" / "wavs" / sorted(p.name for p in (samples_dir / "ljspeech-mini" / "wavs").iterdir())[0],
        samples_dir / "librispeech-mini" / "2412-153948-0000.flac",
        samples_dir / "formats" / "stereo.wav",
        samples_dir / "formats" / "stereo.mp3",
        samples_dir / "formats" / "stereo.opus",
        espeak_wav("The quick brown fox jumps over the lazy dog.", made / "fox.wav"),
    ]
    return files
