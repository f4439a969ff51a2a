"""Fixtures for the model tests: the published-layout reference model and its recorded case."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def vallex_small(reference_dir):
    """(model, case) — reference/vallex_small.pt read by read_checkpoint, in eval mode."""
    from valle.models.checkpoint_import import model_from_checkpoint

    model, _, info = model_from_checkpoint(reference_dir / "vallex_small.pt", model_preset="vallex")
    model.eval()
    case = torch.load(reference_dir / "vallex_small_case_en.pt", weights_only=True)
    return model, case, info


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from a second thread, and on a shared 2-core machine the
    OpenMP hand-off costs milliseconds per op; run each model test single-threaded."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
