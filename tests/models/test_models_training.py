"""Training forward: loss dict, masking of padding, gradient routing per stage, prefix modes."""
from __future__ import annotations

import math

import pytest
import torch

from model_batches import make_batch
from valle.models import VALLE, get_preset


def model_for(**kw):
    torch.manual_seed(0)
    return VALLE(get_preset("nano", **kw))


def run(model, batch, stage, seed=7):
    torch.manual_seed(seed)  # the NAR stage (and prefix) come from the global RNG
    return model(batch, stage)


def item(batch, i):
    S, T = int(batch["text_lens"][i]), int(batch["audio_lens"][i])
    Tp = int(batch["prompt_lens"][i])
    return dict(text_tokens=batch["text_tokens"][i:i + 1, :S], text_lens=batch["text_lens"][i:i + 1],
                text_langs=batch["text_langs"][i:i + 1, :S], audio_codes=batch["audio_codes"][i:i + 1, :T],
                audio_lens=batch["audio_lens"][i:i + 1], prompt_codes=batch["prompt_codes"][i:i + 1, :Tp],
                prompt_lens=batch["prompt_lens"][i:i + 1])


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_loss_dict_and_gradient_routing(stage):
    model = model_for()
    batch = make_batch()
    out = run(model, batch, stage)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    has_ar = "ar_loss" in out
    has_nar = "nar_loss" in out
    assert (has_ar, has_nar) == (stage in (0, 1), stage in (0, 2))
    if has_ar:
        assert out["ar_frames"] == 30 + 17 + 2  # every frame plus one EOS per item
        assert 0.0 <= float(out["ar_top10_acc"]) <= 1.0
    if has_nar:
        assert 0 < out["nar_frames"] <= 47
    grads = {n: p.grad is not None and bool(p.grad.abs().sum() > 0) for n, p in model.named_parameters()}
    ar_grads = [g for n, g in grads.items() if n.startswith("ar_")]
    nar_grads = [g for n, g in grads.items() if n.startswith("nar_")]
    assert all(ar_grads) if has_ar else not any(ar_grads)
    assert any(nar_grads) if has_nar else not any(nar_grads)
    if has_nar:
        assert all(grads[n] for n in grads if n.startswith("nar_decoder.layers"))


@pytest.mark.parametrize("prepend_bos", [True, False])
def test_losses_are_means_over_real_tokens(prepend_bos):
    """A padded batch gives the token-weighted mean of its items run alone: padding is ignored."""
    model = model_for(prefix_mode=0, prepend_bos=prepend_bos).eval()
    batch = make_batch()
    both = run(model, batch, 0)
    singles = [run(model, item(batch, i), 0) for i in range(2)]
    for k in ("ar", "nar"):
        n = [s[f"{k}_frames"] for s in singles]
        want = sum(float(s[f"{k}_loss"]) * m for s, m in zip(singles, n)) / sum(n)
        assert both[f"{k}_frames"] == sum(n)
        assert math.isclose(float(both[f"{k}_loss"]), want, rel_tol=1e-5), k
    # garbage in padded positions changes nothing
    noisy = dict(batch)
    noisy["audio_codes"] = batch["audio_codes"].clone()
    noisy["audio_codes"][1, 17:] = 5
    noisy["text_tokens"] = batch["text_tokens"].clone()
    noisy["text_tokens"][1, 5:] = 3
    again = run(model, noisy, 0)
    assert math.isclose(again["loss"].item(), both["loss"].item(), rel_tol=1e-6)


@pytest.mark.parametrize("mode", [1, 2, 4])
def test_prefix_modes(mode):
    model = model_for(prefix_mode=mode).eval()
    batch = make_batch()
    a, b = run(model, batch, 2, seed=3), run(model, batch, 2, seed=3)
    assert torch.isfinite(a["loss"]) and a["loss"].item() == b["loss"].item()  # replayable from the seed
    if mode in (1, 2):
        assert a["nar_frames"] < 47  # the acoustic prompt frames are not targets
    else:
        assert a["nar_frames"] == 47
    if mode == 4:  # the prompt is real input: changing it changes the loss; its padding does not
        other = dict(batch, prompt_codes=(batch["prompt_codes"] + 1) % 1024)
        assert run(model, other, 2, seed=3)["loss"].item() != a["loss"].item()
        padded = dict(batch, prompt_codes=batch["prompt_codes"].clone())
        padded["prompt_codes"][1, 7:] = 0
        assert math.isclose(run(model, padded, 2, seed=3)["loss"].item(), a["loss"].item(), rel_tol=1e-6)
        with pytest.raises(ValueError, match="prompt_codes"):
            model({k: v for k, v in batch.items() if k != "prompt_codes"}, 2)


def test_few_steps_reduce_both_losses():
    model = model_for()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    batch = make_batch()
    first = run(model, batch, 0)
    for step in range(8):
        out = run(model, batch, 0, seed=step)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    last = run(model, batch, 0)
    assert float(last["ar_loss"]) < float(first["ar_loss"]) - 0.5
    assert float(last["nar_loss"]) < float(first["nar_loss"])


def test_bad_inputs_have_clear_errors():
    model = model_for()
    batch = make_batch()
    with pytest.raises(ValueError, match="text_vocab_size=128"):
        model(dict(batch, text_tokens=batch["text_tokens"] + 500), 1)
    with pytest.raises(ValueError, match="train_stage"):
        model(batch, 3)
    with pytest.raises(ValueError, match="num_languages=3"):
        model(dict(batch, text_langs=batch["text_langs"] + 3), 1)


def test_fast_dropout_rate_scale_and_seed():
    from valle.models.modules import fast_dropout

    x = torch.ones(200_000)
    torch.manual_seed(1)
    y = fast_dropout(x, 0.1, True)
    assert abs(float((y == 0).float().mean()) - 0.1) < 0.005
    values = torch.unique(y)
    assert abs(float(y.mean()) - 1.0) < 0.01 and len(values) == 2 and float(values[0]) == 0.0
    assert abs(float(values[1]) - 1.0 / 0.9) < 1e-6
    torch.manual_seed(1)
    assert torch.equal(fast_dropout(x, 0.1, True), y)
    assert fast_dropout(x, 0.1, False) is x


def test_relu_dropout_equals_relu_then_dropout_values_and_gradients():
    """The fused FFN activation draws the same mask and gives the same values and gradients."""
    from valle.models.modules import fast_dropout, relu_dropout

    x = torch.randn(3, 50, 64, generator=torch.Generator().manual_seed(0))
    grad = torch.randn(3, 50, 64, generator=torch.Generator().manual_seed(1))
    results = []
    for fused in (False, True):
        xi = x.clone().requires_grad_(True)
        torch.manual_seed(2)
        y = relu_dropout(xi, 0.1, True) if fused else fast_dropout(torch.relu(xi), 0.1, True)
        y.backward(grad)
        results.append((y.detach(), xi.grad))
    (y0, g0), (y1, g1) = results
    assert torch.equal(y0, y1) and torch.equal(g0, g1)
    kept = (y0 != 0).float().mean()  # about 0.9 of the positive half
    assert 0.40 < float(kept) < 0.50 and torch.equal(torch.sign(y0), torch.sign(torch.relu(x)) * (y0 != 0))
    assert torch.equal(relu_dropout(x, 0.1, False), torch.relu(x))


def test_rows_padded_output_layer_gives_the_layers_values_and_gradients():
    from valle.models.valle import rows_padded_linear

    torch.manual_seed(0)
    layer = torch.nn.Linear(32, 1025, bias=False)
    h = torch.randn(2, 7, 32)
    grads = []
    for padded in (False, True):
        layer.zero_grad()
        out = rows_padded_linear(layer, h) if padded else layer(h)
        assert out.shape == (2, 7, 1025)
        (out * torch.arange(1025.0)).sum().backward()
        grads.append((out.detach(), layer.weight.grad.clone()))
    (y0, g0), (y1, g1) = grads
    assert torch.allclose(y0, y1, rtol=0, atol=1e-6) and torch.allclose(g0, g1, rtol=1e-6, atol=1e-5)


def test_activation_checkpointing_gives_the_same_gradients():
    batch = make_batch()
    grads = []
    for enabled in (False, True):
        model = model_for(dropout=0.1)
        model.set_activation_checkpointing(enabled)
        out = run(model, batch, 0)
        out["loss"].backward()
        grads.append(model.ar_decoder.layers[0].linear1.weight.grad.clone())
        grads.append(model.nar_decoder.layers[1].linear2.weight.grad.clone())
    assert torch.allclose(grads[0], grads[2], atol=1e-6) and torch.allclose(grads[1], grads[3], atol=1e-6)


def test_top10_accuracy_counts_rank_below_ten():
    logits = torch.arange(20.0).flip(0).repeat(3, 1)  # class c has rank c
    loss, acc, n = VALLE._ce_and_acc(logits, torch.tensor([0, 9, 10]))
    assert n == 3 and abs(float(acc) - 2 / 3) < 1e-6
    assert abs(float(loss) - float(torch.nn.functional.cross_entropy(logits, torch.tensor([0, 9, 10])))) < 1e-6


@pytest.mark.parametrize("mode", [0, 1, 2, 4])
def test_several_nar_stages_per_batch_are_the_mean_of_each_stage_alone(mode):
    """``nar_stages_per_step``: the stages run stacked as one batch; the loss is the mean of each
    stage's own loss (same prefix/prompt draw), every drawn stage's output layer gets a gradient."""
    model = model_for(prefix_mode=mode, share_embedding=False).eval()
    batch = make_batch()
    every = run(model, dict(batch, nar_stages_per_step=7), 2, seed=3)
    alone = [run(model, dict(batch, nar_stage=s), 2, seed=3) for s in range(1, 8)]
    assert every["nar_frames"] == sum(a["nar_frames"] for a in alone)
    want = sum(float(a["nar_loss"]) for a in alone) / 7
    assert math.isclose(float(every["nar_loss"]), want, rel_tol=1e-5)
    out = run(model, dict(batch, nar_stages_per_step=3), 2, seed=5)
    out["loss"].backward()
    trained = [i for i, layer in enumerate(model.nar_predict_layers) if layer.weight.grad is not None]
    assert len(trained) == 3 and out["nar_frames"] % 3 == 0  # the same frames of each stage
    with pytest.raises(ValueError, match="nar_stages_per_step must be in 1..7"):
        model(dict(batch, nar_stages_per_step=8), 2)
