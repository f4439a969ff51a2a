"""Fixtures for synthesis tests: a tiny trained nano checkpoint and a real spoken prompt.

The checkpoint is built directly (not through prepare + valle.bin.train, which have their own
tests) so these tests stay fast: a nano VALL-E X-style model, trained a few steps on random
codes with the real training forward, saved in the training checkpoint format with the symbol
table of real espeak-ng tokens.  A model trained for a few steps has learnt nothing, so its
stopping point would be arbitrary; the fixture lowers the AR's end-of-speech logit, which makes
every chunk run to the length guard and lets tests predict the exact number of frames.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

SENTENCES = [
    "The kettle began to sing just as the rain reached the window.",
    "Please put the green folder on the second shelf.",
    "Seven geese flew low over the frozen lake.",
    "Could you read the last line of the letter again?",
    "Hello there, how are you today?",
]
PROMPT_TEXT = "The museum keeps its oldest maps in a dark room."


def _train_nano(symbols, steps: int = 3, seed: int = 0):
    from valle.models import VALLE, get_preset
    from valle.models.eos_suppression import suppress_eos

    torch.manual_seed(seed)
    config = get_preset("nano", text_vocab_size=max(len(symbols), 8))
    model = VALLE(config)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    B, S, T = 2, 20, 40
    for _ in range(steps):
        batch = {
            "text_tokens": torch.randint(2, len(symbols), (B, S)),
            "text_lens": torch.tensor([S, S - 4]),
            "text_langs": torch.zeros(B, S, dtype=torch.long),
            "audio_codes": torch.randint(0, 1024, (B, T, 8)),
            "audio_lens": torch.tensor([T, T - 8]),
        }
        out = model(batch, train_stage=0)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    suppress_eos(model)
    return model, config


@pytest.fixture(scope="session")
def nano_checkpoints(tmp_path_factory):
    """Paths of ``both`` (train stage 0), ``ar`` (stage 1) and ``nar`` (stage 2) checkpoints."""
    from valle.text.symbol_table import SymbolTable
    from valle.text.tokenizer import get_text_tokenizer
    from valle.train.checkpoint import save_checkpoint

    tokens = []
    for lang in ("en-us", "en-gb"):  # tests synthesize with both
        tok = get_text_tokenizer("espeak", lang)
        tokens += [t for tt in tok.batch(SENTENCES + [PROMPT_TEXT]) for t in tt.tokens]
    table = SymbolTable.for_corpus(tokens)
    model, config = _train_nano(table.symbols)
    d = tmp_path_factory.mktemp("nano_ckpt")
    common = dict(model=model.state_dict(), model_config=config.to_dict(), text_symbols=table.symbols)
    paths = {
        "both": save_checkpoint(d / "both.pt", train_stage=0, **common),
        "ar": save_checkpoint(d / "ar.pt", train_stage=1, **common),
        "nar": save_checkpoint(d / "nar.pt", train_stage=2, **common),
    }
    paths["symbols"] = table.symbols
    return paths


@pytest.fixture(scope="session")
def prompt_wav(tmp_path_factory, espeak_wav) -> Path:
    """A real spoken prompt longer than 3 s (espeak-ng, 22.05 kHz mono)."""
    d = tmp_path_factory.mktemp("prompt")
    return espeak_wav(PROMPT_TEXT + " " + PROMPT_TEXT, d / "prompt.wav", "en-gb", 150)
