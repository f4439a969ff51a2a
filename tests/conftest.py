"""Shared fixtures: paths to ../shared and real speech made with espeak-ng."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; VALLE_SHARED_DIR for a checkout elsewhere (e.g. a git worktree)
SHARED_DIR = Path(os.environ.get("VALLE_SHARED_DIR") or REPO_DIR.parent / "shared")


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO_DIR


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    d = SHARED_DIR / "samples"
    if not d.is_dir():
        pytest.fail(f"{d} is missing: the tests need ../shared beside the checkout")
    return d


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    d = SHARED_DIR / "reference"
    if not d.is_dir():
        pytest.fail(f"{d} is missing: the tests need ../shared beside the checkout")
    return d


def make_espeak_wav(text: str, path: Path, voice: str = "en-us", speed: int = 175) -> Path:
    """Synthesize ``text`` with espeak-ng into ``path`` (22.05 kHz mono wav)."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed: run `make setup`")
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path


@pytest.fixture(scope="session")
def espeak_wav():
    return make_espeak_wav
