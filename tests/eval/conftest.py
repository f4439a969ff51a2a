"""Real speech for the evaluation tests (tests/eval/data, copied from the shared samples)."""
from __future__ import annotations

from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parent / "data"
LIBRISPEECH_ID = "2412-153948-0000"


@pytest.fixture(scope="session")
def eval_data() -> Path:
    return DATA_DIR


@pytest.fixture(scope="session")
def librispeech_utterance():
    """(wav float32 16 kHz, sample rate, transcript) of the LibriSpeech dev-clean sample."""
    import soundfile as sf

    wav, sr = sf.read(str(DATA_DIR / f"{LIBRISPEECH_ID}.flac"), dtype="float32")
    line = (DATA_DIR / "2412-153948.trans.txt").read_text().strip()
    utt_id, text = line.split(" ", 1)
    assert utt_id == LIBRISPEECH_ID
    return wav, sr, text
