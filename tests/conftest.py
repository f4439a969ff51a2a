"""Shared fixtures: the test assets (real speech samples, the reference checkpoint) and real speech
made with espeak-ng."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parents[1]
# copies of the project's shared samples/ and reference/ (their READMEs say where they come from),
# so the suite runs from a plain clone
ASSETS_DIR = REPO_DIR / "tests" / "assets"


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO_DIR


def _asset_dir(name: str) -> Path:
    d = ASSETS_DIR / name
    if not d.is_dir():
        pytest.fail(f"{d} is missing: the test assets are part of the repository; restore them with git checkout tests/assets")
    return d


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return _asset_dir("samples")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return _asset_dir("reference")


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
