"""Fixtures for the training tests; the corpus builders live in tests/synthetic_corpus.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from synthetic_corpus import make_data_dir


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return make_data_dir(tmp_path)
