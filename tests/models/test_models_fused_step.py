"""The fused single-token AR step (the default) gives the codes of the decoder-module path."""
from __future__ import annotations

import pytest
import torch

from reference_case import case_inputs
from model_batches import make_inputs
from test_models_kv_cache import make_model
from valle.models import step_kernels
from valle.models.decoding import ar_decode
from valle.models.kernel_step import greedy_choice, kernel_step_supported
from valle.models.quantize import quantize_for_synthesis


def test_fused_step_equals_module_step_on_reference_case(vallex_small):
    model, case, _ = vallex_small
    out = case["cases"][0]["outputs"]
    x = case_inputs(case["cases"][0])
    n = case["max_new_frames"]
    runs = {}
    with torch.no_grad():
        for mode in ("kernel", "fused", "modules", "static"):
            runs[mode] = ar_decode(model, x["text_tokens"], x["text_lens"], x["text_langs"],
                                   x["audio_prompts"][..., 0], x["prompt_lens"], torch.tensor([n]), top_k=1,
                                   keep_logits=True, step_mode=mode)
    for mode in ("kernel", "fused", "static"):
        assert torch.equal(runs[mode].codes[0], runs["modules"].codes[0])
        assert torch.equal(runs[mode].codes[0], out["ar_generated_q0"])
        assert (runs[mode].step_logits[0] - runs["modules"].step_logits[0]).abs().max() < 1e-5
        assert (runs[mode].step_logits[0] - out["ar_step_logits"][:n]).abs().max() < 1e-4


@pytest.mark.parametrize("bos,tiles", [(True, False), (False, False), (False, True)])
def test_fused_step_batched_padding_and_stopping(bos, tiles, monkeypatch):
    """Items with different text / prompt lengths (left-padded audio, right-padded text) and
    different frame budgets, so items leave the batch one by one (6 rows, then fewer as items finish):
    every item equals the module path. ``tiles``: the kernel's products of 4+ rows take its 4 x 4 tiles (as a
    paper-size step's do; this model's weights are too small for them)."""
    if tiles:
        monkeypatch.setattr(step_kernels, "TILE_MIN_STEP_BYTES", 0)
    model = make_model(prepend_bos=bos)
    lens = ([11, 4, 8, 6, 13, 2], [1 if bos else 2, 17, 40, 9, 25, 3], [20, 6, 13, 9, 16, 3])
    x = make_inputs(*lens[:2])
    with torch.no_grad():
        plain, fused, static, kernel = (
            ar_decode(model, x["text_tokens"], x["text_lens"], x["text_langs"], x["prompts"][..., 0],
                      x["prompt_lens"], torch.tensor(lens[2]), top_k=1, keep_logits=True, step_mode=mode)
            for mode in ("modules", "fused", "static", "kernel"))
    for run in (fused, static, kernel):  # "static": the fixed-shape step that CUDA graphs capture
        for i in range(len(lens[2])):
            assert len(run.codes[i]) == lens[2][i]
            assert torch.equal(run.codes[i], plain.codes[i])
            assert (run.step_logits[i] - plain.step_logits[i])[:, :1024].abs().max() < 1e-5  # EOS: -inf
        assert torch.allclose(run.logprob, plain.logprob, atol=1e-4)


def test_step_mode_checked():
    model = make_model()
    x = make_inputs([5], [3])
    with pytest.raises(ValueError, match="step_mode must be one of"):
        ar_decode(model, x["text_tokens"], x["text_lens"], x["text_langs"], x["prompts"][..., 0],
                  x["prompt_lens"], torch.tensor([2]), top_k=1, step_mode="graph")


def test_auto_step_mode_uses_the_kernel_only_where_it_applies():
    model = make_model()
    cpu = torch.device("cpu")
    assert kernel_step_supported(model, cpu)
    x = make_inputs([6], [5])
    args = (x["text_tokens"], x["text_lens"], x["text_langs"], x["prompts"][..., 0], x["prompt_lens"], torch.tensor([4]))
    int8 = quantize_for_synthesis(make_model(), "int8")  # int8 linear maps: the kernel reads their int8 weights
    assert kernel_step_supported(int8, cpu)
    double = make_model().double()
    assert not kernel_step_supported(double, cpu)
    with torch.no_grad():
        assert len(ar_decode(int8, *args, top_k=1).codes[0]) == 4
        assert len(ar_decode(double, *args, top_k=1).codes[0]) == 4  # "auto" falls back to "fused"
        with pytest.raises(ValueError, match="step_mode 'kernel' needs"):
            ar_decode(double, *args, top_k=1, step_mode="kernel")
    # bf16 autocast (--dtype bfloat16) computes in bf16: the torch step, not the fp32 kernel
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert not kernel_step_supported(model, cpu)
        assert len(ar_decode(model, *args, top_k=1).codes[0]) == 4


def test_greedy_choice_is_argmax_and_log_softmax():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 1025, generator=g) * 5
    logits[0, 7] = logits[0, 9] = logits[0].max() + 1  # a tie: the first index, as argmax
    logits[1, :100] = float("-inf")
    tok, lp = greedy_choice(logits)
    assert torch.equal(tok, logits.argmax(dim=-1)) and int(tok[0]) == 7
    expect = torch.log_softmax(logits, dim=-1).gather(1, tok[:, None]).view(-1)
    assert torch.allclose(torch.tensor(lp, dtype=torch.float32), expect, atol=1e-5)
