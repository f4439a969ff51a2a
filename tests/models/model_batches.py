"""Random model inputs for the model tests: a training batch and the inputs of AR decoding."""
from __future__ import annotations

import torch


def make_batch(lens=(30, 17), text_lens=(9, 5), seed=0, prompt_lens=(12, 7)):
    g = torch.Generator().manual_seed(seed)
    B, T, S = len(lens), max(lens), max(text_lens)
    return dict(
        text_tokens=torch.randint(0, 128, (B, S), generator=g),
        text_lens=torch.tensor(text_lens),
        text_langs=torch.randint(0, 3, (B, S), generator=g),
        audio_codes=torch.randint(0, 1024, (B, T, 8), generator=g),
        audio_lens=torch.tensor(lens),
        prompt_codes=torch.randint(0, 1024, (B, max(prompt_lens), 8), generator=g),
        prompt_lens=torch.tensor(prompt_lens),
    )


def make_inputs(text_lens, prompt_lens, seed=1):
    """Decoding inputs: text and prompts of ``prompt_lens`` frames (the same draws as ``make_batch``'s
    text and audio codes, so one seed gives one batch)."""
    frames = max(max(prompt_lens), 1)
    b = make_batch(lens=(frames,) * len(text_lens), text_lens=text_lens, seed=seed, prompt_lens=prompt_lens)
    return dict(text_tokens=b["text_tokens"], text_lens=b["text_lens"], text_langs=b["text_langs"],
                prompts=b["audio_codes"], prompt_lens=b["prompt_lens"])
