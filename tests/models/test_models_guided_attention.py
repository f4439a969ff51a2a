"""Guided attention (valle/models/guided_attention.py): the diagonal penalty, its masking and its gradients."""
from __future__ import annotations

import torch

from valle.models import VALLE, get_preset
from valle.models.guided_attention import TextAttentionRecorder, diagonal_weights


def nano():
    torch.manual_seed(0)
    return VALLE(get_preset("nano"))


def batch(lens=(30, 17), text_lens=(9, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    B, T, S = len(lens), max(lens), max(text_lens)
    return dict(text_tokens=torch.randint(0, 128, (B, S), generator=g), text_lens=torch.tensor(text_lens),
                audio_codes=torch.randint(0, 1024, (B, T, 8), generator=g), audio_lens=torch.tensor(lens))


def test_weights_are_zero_on_each_items_diagonal_and_grow_away_from_it():
    w = diagonal_weights(torch.tensor([40, 20]), torch.tensor([10, 5]), 40, 10, sigma=0.2)
    assert w.shape == (2, 40, 10)
    assert float(w[0, 0, 0]) == 0.0 and float(w[0, 20, 5]) == 0.0 and float(w[1, 8, 2]) == 0.0
    assert float(w[0, 0, 9]) > 0.6 and float(w[0, 39, 0]) > 0.6  # the far corners
    row = w[0, 20]
    assert torch.all(row[:5].flip(0).diff() > 0) and torch.all(row[5:].diff() > 0)  # grows away from t = 5
    assert float(w[1, 20:].abs().sum()) == 0.0 and float(w[1, :, 5:].abs().sum()) == 0.0  # past item 1's lengths


def test_loss_is_small_for_diagonal_attention_and_large_for_anti_diagonal():
    text_valid = torch.ones(1, 10, dtype=torch.bool)
    audio_valid = torch.ones(1, 40, dtype=torch.bool)
    n = torch.arange(40)[:, None] / 40
    t = torch.arange(10)[None, :] / 10
    rec = TextAttentionRecorder(nano().ar_decoder, 10)
    rec.remove()
    rec.logits = [(-((n - t) ** 2) * 400)[None, None]]
    diagonal = float(rec.loss(text_valid, audio_valid, 0.2))
    rec.logits = [(-((n - (1 - t)) ** 2) * 400)[None, None]]
    anti = float(rec.loss(text_valid, audio_valid, 0.2))
    assert diagonal < 0.05 < 0.5 < anti


def test_forward_adds_the_weighted_loss_only_in_training_and_leaves_no_hooks():
    model = nano().train()
    b = batch()
    torch.manual_seed(1)
    plain = model(dict(b), train_stage=1)
    torch.manual_seed(1)
    guided = model(dict(b, guided_attention=(2.0, 0.2)), train_stage=1)
    g = float(guided["guided_attention_loss"])
    assert 0.0 < g < 1.0
    assert abs(float(guided["loss"].detach()) - (float(plain["loss"].detach()) + 2.0 * g)) < 1e-4
    for layer in model.ar_decoder.layers:
        assert not layer.self_attn._forward_pre_hooks
    model.eval()
    assert "guided_attention_loss" not in model(dict(b, guided_attention=(2.0, 0.2)), train_stage=1)


def test_padding_does_not_change_an_items_loss():
    model = nano().eval()  # no dropout: the two forwards must see the same activations
    b = batch()
    both = TextAttentionRecorder(model.ar_decoder, 9)
    model(dict(b), train_stage=1)
    both.remove()
    one = dict(text_tokens=b["text_tokens"][1:, :5], text_lens=b["text_lens"][1:],
               audio_codes=b["audio_codes"][1:, :17], audio_lens=b["audio_lens"][1:])
    alone = TextAttentionRecorder(model.ar_decoder, 5)
    model(one, train_stage=1)
    alone.remove()
    tv = torch.arange(9)[None] < b["text_lens"][:, None]
    bos = int(model.config.prepend_bos)  # a BOS frame is a query too
    av = torch.arange(30 + bos)[None] < (b["audio_lens"] + bos)[:, None]
    both.logits = [x[1:] for x in both.logits]
    padded = float(both.loss(tv[1:], av[1:], 0.2))
    single = float(alone.loss(tv[1:, :5], av[1:, :17 + bos], 0.2))
    assert abs(padded - single) < 1e-5


def test_training_on_the_loss_alone_moves_the_attention_onto_the_diagonal():
    model = nano().train()
    b = batch()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    tv = torch.arange(9)[None] < b["text_lens"][:, None]
    bos = int(model.config.prepend_bos)
    av = torch.arange(30 + bos)[None] < (b["audio_lens"] + bos)[:, None]
    losses = []
    for _ in range(30):
        rec = TextAttentionRecorder(model.ar_decoder, 9)
        model(dict(b), train_stage=1)
        rec.remove()
        loss = rec.loss(tv, av, 0.2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
