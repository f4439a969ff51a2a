"""The fused single-token AR step (the default) gives the codes of the decoder-module path."""
from __future__ import annotations

import pytest
import torch

from conftest import case_inputs
from test_models_kv_cache import decode, make_inputs, make_model
from valle.models.decoding import ar_decode


def test_fused_step_equals_module_step_on_reference_case(vallex_small):
    model, case, _ = vallex_small
    out = case["cases"][0]["outputs"]
    x = case_inputs(case["cases"][0])
    n = case["max_new_frames"]
    runs = {}
    with torch.no_grad():
        for fused in (True, False):
            runs[fused] = ar_decode(model, x["text_tokens"], x["text_lens"], x["text_langs"],
                                    x["audio_prompts"][..., 0], x["prompt_lens"], torch.tensor([n]), top_k=1,
                                    keep_logits=True, fused=fused)
    assert torch.equal(runs[True].codes[0], runs[False].codes[0])
    assert torch.equal(runs[True].codes[0], out["ar_generated_q0"])
    assert (runs[True].step_logits[0] - runs[False].step_logits[0]).abs().max() < 1e-5
    assert (runs[True].step_logits[0] - out["ar_step_logits"][:n]).abs().max() < 1e-4


@pytest.mark.parametrize("bos", [True, False])
def test_fused_step_batched_padding_and_stopping(bos):
    """Items with different text / prompt lengths (left-padded audio, right-padded text) and
    different frame budgets, so items leave the batch mid-way: every item equals the module path."""
    model = make_model(prepend_bos=bos)
    lens = ([11, 4, 8], [1 if bos else 2, 17, 40], [20, 6, 13])
    x = make_inputs(*lens[:2])
    fused = decode(model, x, lens[2], True)
    with torch.no_grad():
        plain = ar_decode(model, x["text_tokens"], x["text_lens"], x["text_langs"], x["prompts"][..., 0],
                          x["prompt_lens"], torch.tensor(lens[2]), top_k=1, keep_logits=True, fused=False)
    for i in range(3):
        assert len(fused.codes[i]) == lens[2][i]
        assert torch.equal(fused.codes[i], plain.codes[i])
        assert (fused.step_logits[i] - plain.step_logits[i][:, :1024]).abs().max() < 1e-5
    assert torch.allclose(fused.logprob, plain.logprob, atol=1e-4)
