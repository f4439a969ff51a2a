"""Real speech for the evaluation tests: the LibriSpeech and LJSpeech samples of tests/assets in one folder."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

LIBRISPEECH_ID = "2412-153948-0000"


@pytest.fixture(scope="session")
def eval_data(samples_dir, tmp_path_factory) -> Path:
    """``<id>.flac`` + ``2412-153948.trans.txt``, the two LJSpeech wavs and ``ljspeech_metadata.csv``."""
    d = tmp_path_factory.mktemp("eval_data")
    for src in (samples_dir / "librispeech-mini").iterdir():
        shutil.copy(src, d / src.name)
    for src in (samples_dir / "ljspeech-mini" / "wavs").iterdir():
        shutil.copy(src, d / src.name)
    shutil.copy(samples_dir / "ljspeech-mini" / "metadata.csv", d / "ljspeech_metadata.csv")
    return d


@pytest.fixture(scope="session")
def librispeech_utterance(eval_data):
    """(wav float32 16 kHz, sample rate, transcript) of the LibriSpeech dev-clean sample."""
    import soundfile as sf

    wav, sr = sf.read(str(eval_data / f"{LIBRISPEECH_ID}.flac"), dtype="float32")
    line = (eval_data / "2412-153948.trans.txt").read_text().strip()
    utt_id, text = line.split(" ", 1)
    assert utt_id == LIBRISPEECH_ID
    return wav, sr, text
