"""--min-len-ratio: EOS is forbidden until each item has min_len_ratio x its target-text length frames."""
from __future__ import annotations

import torch

from valle.models import VALLE, get_preset


def eager_to_stop_model():
    """A nano model whose AR always prefers EOS: without a minimum it stops at once."""
    torch.manual_seed(0)
    model = VALLE(get_preset("nano")).eval()
    eos = model.config.eos_id
    model.ar_predict_layer.register_forward_hook(lambda m, i, out: out.index_add(
        -1, torch.tensor([eos]), torch.full_like(out[..., :1], 50.0)))
    return model


def run(model, min_len_ratio, prompt_text_lens=(3, 5), text_lens=(9, 12)):
    g = torch.Generator().manual_seed(3)
    B, S = len(text_lens), max(text_lens)
    return model.inference(
        torch.randint(0, 100, (B, S), generator=g), torch.tensor(text_lens), torch.tensor(prompt_text_lens),
        torch.randint(0, 1024, (B, 20, 8), generator=g), torch.tensor([20, 14]),
        torch.zeros(B, S, dtype=torch.long), top_k=1, min_len_ratio=min_len_ratio)


def test_without_minimum_the_eager_model_stops_at_once():
    assert [c.shape[0] for c in run(eager_to_stop_model(), 0.0)] == [0, 0]


def test_minimum_counts_target_text_tokens_only():
    out = run(eager_to_stop_model(), 2.0)
    # target text = text_lens - prompt_text_lens = 6 and 7 tokens -> 12 and 14 frames, then EOS
    assert [c.shape[0] for c in out] == [12, 14]
    assert all(c.shape[1] == 8 for c in out)
