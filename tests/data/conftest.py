"""Tiny corpora for the data-preparation tests, made from real speech (espeak-ng) with sox."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from corpus_builders import build_libritts_tree, sox, truncate, write

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_speech(espeak_wav, tmp_path):
    """make_speech(text, dst, rate=None, channels=None, pad=None): espeak-ng speech converted by sox."""
    counter = {"n": 0}

    def make(text: str, dst: Path, rate=None, channels=None, pad=None, voice="en-us") -> Path:
        counter["n"] += 1
        raw = espeak_wav(text, tmp_path / "_raw" / f"{counter['n']}.wav", voice)
        dst.parent.mkdir(parents=True, exist_ok=True)
        args = [raw]
        out = []
        if channels:
            out += ["-c", channels]
        if rate:
            out += ["-r", rate]
        effects = ["pad", pad[0], pad[1]] if pad else []
        if dst.suffix == ".opus":  # sox cannot write opus; ffmpeg can
            cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-c:a", "libopus"]
            cmd += ["-ar", str(rate)] if rate else []
            cmd += ["-ac", str(channels)] if channels else []
            subprocess.run(cmd + [str(dst)], check=True, capture_output=True)
            return dst
        sox(*args, *out, dst, *effects)
        return dst

    return make


@pytest.fixture
def mixed_corpus(tmp_path, make_speech):
    """The acceptance folder: stereo 44.1 kHz mp3 + transcript, 16 kHz flac, empty transcript,
    truncated wav, audio without transcript (pairs layout, speaker folder ``anna``)."""
    d = tmp_path / "mixed"
    spk = d / "anna"
    make_speech("The quick brown fox jumps over the lazy dog.", spk / "stereo.mp3", rate=44100, channels=2)
    write(spk / "stereo.txt", "The quick brown fox jumps over the lazy dog.")
    make_speech("Speech at sixteen kilohertz in a flac file.", spk / "sixteen.flac", rate=16000)
    write(spk / "sixteen.txt", "Speech at sixteen kilohertz in a flac file.")
    make_speech("This one has an empty transcript.", spk / "empty.wav")
    write(spk / "empty.txt", "  \n")
    full = make_speech("This file was cut off in the middle of a copy.", tmp_path / "_full.wav")
    truncate(full, spk / "truncated.wav")
    write(spk / "truncated.txt", "This file was cut off in the middle of a copy.")
    make_speech("Nobody wrote down what I said.", spk / "orphan.wav")
    return d


@pytest.fixture
def libritts_tree(tmp_path, make_speech):
    return build_libritts_tree(tmp_path / "dl", make_speech)


@pytest.fixture
def ljspeech_copy(samples_dir, tmp_path):
    dst = tmp_path / "ljspeech-mini"
    shutil.copytree(samples_dir / "ljspeech-mini", dst)
    return dst


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
