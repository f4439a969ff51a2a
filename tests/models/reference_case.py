"""The recorded VALL-E X reference case (tests/assets/reference) as our models' inference arguments.
A plain module, not conftest.py: several test folders have a conftest, and ``from conftest import``
picks whichever was imported first."""
from __future__ import annotations

import torch

LANG_ID = {"en": 0, "zh": 1, "ja": 2}


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
