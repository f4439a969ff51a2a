"""Fixtures for the model tests: the published-layout reference model and its recorded case."""
from __future__ import annotations

import pytest
import torch

LANG_ID = {"en": 0, "zh": 1, "ja": 2}


@pytest.fixture(scope="session")
def vallex_small(reference_dir):
    """(model, case) — reference/vallex_small.pt read by read_checkpoint, in eval mode."""
    from valle.models.checkpoint_import import load_model

    model, _, info = load_model(reference_dir / "vallex_small.pt", model_preset="vallex")
    model.eval()
    case = torch.load(reference_dir / "vallex_small_case_en.pt", weights_only=True)
    return model, case, info


def case_inputs(case):
    """The recorded case as our inference arguments (per-token language ids)."""
    inp = case["inputs"]
    text = inp["text_tokens"]
    sp = int(inp["enroll_x_lens"])
    langs = [LANG_ID[inp["prompt_language"]]] * sp + [LANG_ID[x] for x in inp["text_language"]]
    assert len(langs) == text.shape[1]
    return dict(
        text_tokens=text,
        text_lens=torch.tensor([text.shape[1]]),
        prompt_text_lens=torch.tensor([sp]),
        audio_prompts=inp["audio_prompts"],
        prompt_lens=torch.tensor([inp["audio_prompts"].shape[1]]),
        text_langs=torch.tensor([langs]),
    )


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from a second thread, and on a shared 2-core machine the
    OpenMP hand-off costs milliseconds per op; run each model test single-threaded."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
