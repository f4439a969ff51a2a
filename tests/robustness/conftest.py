"""Session fixtures of the robustness matrix: one full prepare.sh run over the odd corpus.

Most prepare-stage cases only need to look at where their file ended up, so the corpus is
prepared once (stages 0-4, real espeak-ng, real Encodec architecture with random weights) and
each test reads the outputs; the fault tests rerun single stages on copies of these outputs
and compare with them.
"""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from robust_helpers import REPO, SENTENCES_TO_SAY, build_matrix_corpus, prepare_cmd, python_env
from robust_train_data import make_train_dir


@dataclass
class MatrixRun:
    root: Path
    corpus: Path
    data: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def manifests(self) -> Path:
        return self.data / "manifests"

    @property
    def tokenized(self) -> Path:
        return self.data / "tokenized"


@pytest.fixture(scope="session")
def matrix_run(tmp_path_factory) -> MatrixRun:
    root = tmp_path_factory.mktemp("matrix")
    corpus = build_matrix_corpus(root)
    data = root / "data dir with 'quotes' and ü"
    start = time.perf_counter()
    proc = subprocess.run(prepare_cmd(corpus, data), capture_output=True, text=True, cwd=REPO,
                          env=python_env(), timeout=600)
    run = MatrixRun(root, corpus, data, proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start)
    return run


@pytest.fixture(scope="session")
def prepared(matrix_run) -> MatrixRun:
    """The matrix run, required to have succeeded."""
    assert matrix_run.returncode == 0, matrix_run.stderr[-5000:]
    return matrix_run


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    """The tiny tokenized corpus the training cases train on (robust_train_data.py)."""
    return make_train_dir(tmp_path_factory.mktemp("train_data"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained nano AR+NAR checkpoint whose symbol table covers the test texts."""
    import torch

    from valle.codec import facts_of
    from valle.models import VALLE, get_preset
    from valle.text.symbol_table import SymbolTable
    from valle.text.tokenizer import get_text_tokenizer
    from valle.train.checkpoint import save_checkpoint

    tok = get_text_tokenizer("espeak", "en-us")
    table = SymbolTable.for_corpus([t for tt in tok.batch(SENTENCES_TO_SAY + ["Hi there."]) for t in tt.tokens])
    torch.manual_seed(0)
    config = get_preset("nano", text_vocab_size=len(table))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "nano.pt", model=VALLE(config).state_dict(),
                           model_config=config.to_dict(), text_symbols=table.symbols, train_stage=0,
                           codec=facts_of("encodec:random"))  # synthesis decodes with seeded random Encodec
