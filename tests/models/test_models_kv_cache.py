"""KV-cache decoding equals full recomputation; batching (padding, per-item stopping) changes nothing."""
from __future__ import annotations

import pytest
import torch

from model_batches import make_inputs
from valle.models import VALLE, get_preset
from valle.models.decoding import ar_decode
from valle.models.sampling import filter_logits, sample_next


def make_model(**kw):
    torch.manual_seed(0)
    model = VALLE(get_preset("nano", **kw)).eval()
    # greedy decoding of random weights: keep EOS out so lengths are controlled
    eos = torch.tensor([model.config.eos_id])
    model.eos_hook = model.ar_predict_layer.register_forward_hook(
        lambda m, i, out: out.index_fill(-1, eos, float("-inf")))
    return model


def decode(model, x, max_frames, use_kv_cache, rows=None):
    sel = (lambda t: t) if rows is None else (lambda t: t[rows])
    with torch.no_grad():
        r = ar_decode(model, sel(x["text_tokens"]), sel(x["text_lens"]), sel(x["text_langs"]),
                      sel(x["prompts"][..., 0]), sel(x["prompt_lens"]), sel(torch.tensor(max_frames)),
                      top_k=1, use_kv_cache=use_kv_cache, keep_logits=True)
    r.step_logits = [s[:, :1024] for s in r.step_logits]  # the EOS column is -inf (forbidden)
    return r


@pytest.mark.parametrize("text_lens,prompt_lens,max_frames", [
    ([9], [0], [12]),
    ([9], [7], [12]),
    ([5, 11], [30, 3], [10, 16]),
    ([11, 4, 8], [1, 17, 40], [20, 6, 13]),
])
def test_kv_cache_equals_full_recomputation(text_lens, prompt_lens, max_frames):
    model = make_model()
    x = make_inputs(text_lens, prompt_lens)
    kv = decode(model, x, max_frames, True)
    full = decode(model, x, max_frames, False)
    for i in range(len(text_lens)):
        assert len(kv.codes[i]) == max_frames[i]  # per-item stopping
        assert torch.equal(kv.codes[i], full.codes[i])
        assert (kv.step_logits[i] - full.step_logits[i]).abs().max() < 1e-4
    if len(text_lens) > 1:  # padding of the others does not change an item's result
        for i in range(len(text_lens)):
            alone = decode(model, x, max_frames, True, rows=[i])
            assert torch.equal(alone.codes[0], kv.codes[i])
            assert (alone.step_logits[0] - kv.step_logits[i]).abs().max() < 1e-4


def test_kv_cache_without_bos():
    model = make_model(prepend_bos=False)
    x = make_inputs([6, 10], [5, 12])
    kv, full = decode(model, x, [9, 9], True), decode(model, x, [9, 9], False)
    assert all(torch.equal(a, b) for a, b in zip(kv.codes, full.codes))


def test_eos_stops_and_is_not_output():
    model = make_model()
    model.eos_hook.remove()
    with torch.no_grad():  # final hidden state all ones, only the EOS row responds to it
        model.ar_decoder.norm.weight.zero_()
        model.ar_decoder.norm.bias.fill_(1.0)
        model.ar_predict_layer.weight.zero_()
        model.ar_predict_layer.weight[model.config.eos_id] = 1.0
    x = make_inputs([6, 8], [4, 9])
    r = decode(model, x, [20, 20], True)
    assert [len(c) for c in r.codes] == [0, 0] and r.num_scored.tolist() == [1, 1]


def test_sampling_filters_and_generator_reproducible():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    assert torch.isinf(filter_logits(logits, top_k=2)).tolist() == [[False, False, True, True, True]]
    p = logits.softmax(-1)[0]  # top_p just above the first token's mass keeps two tokens
    kept = ~torch.isinf(filter_logits(logits, top_p=float(p[0]) + 0.01))
    assert kept.tolist() == [[True, True, False, False, False]]
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = sample_next(logits.repeat(50, 1), top_k=3, temperature=2.0, generator=g1)
    b = sample_next(logits.repeat(50, 1), top_k=3, temperature=2.0, generator=g2)
    assert torch.equal(a, b) and set(a.tolist()) <= {0, 1, 2} and len(set(a.tolist())) > 1
    with pytest.raises(ValueError, match="temperature"):
        filter_logits(logits, temperature=0)


def test_best_of_keeps_highest_normalised_logprob():
    torch.manual_seed(0)
    model = VALLE(get_preset("nano")).eval()
    x = make_inputs([7, 5], [6, 3])
    args = dict(top_k=50, temperature=1.5, max_len_ratio=2)
    with torch.no_grad():
        cand = ar_decode(model, x["text_tokens"].repeat_interleave(3, 0), x["text_lens"].repeat_interleave(3),
                         x["text_langs"].repeat_interleave(3, 0), x["prompts"][..., 0].repeat_interleave(3, 0),
                         x["prompt_lens"].repeat_interleave(3), (x["text_lens"] * 2).repeat_interleave(3),
                         generator=torch.Generator().manual_seed(3), **{k: args[k] for k in ("top_k", "temperature")})
    out = model.inference(x["text_tokens"], x["text_lens"], torch.tensor([3, 2]), x["prompts"], x["prompt_lens"],
                          x["text_langs"], best_of=3, generator=torch.Generator().manual_seed(3), **args)
    score = cand.logprob / cand.num_scored
    for i in range(2):
        best = int(score[3 * i: 3 * i + 3].argmax()) + 3 * i
        assert torch.equal(out[i][:, 0], cand.codes[best])
        assert out[i].shape[1] == 8
