"""Fixtures for the training tests; the corpus builders live in train_corpus.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from train_corpus import make_data_dir


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return make_data_dir(tmp_path)
