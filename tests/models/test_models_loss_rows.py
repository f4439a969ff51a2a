"""The training losses run the last decoder layer for the rows they read only (the AR: the audio rows, not the
text; the NAR: the target frames, not the text, prompt or prefix): the same losses and gradients as the
full pass, with fewer rows computed."""
from __future__ import annotations

import pytest
import torch

from model_batches import make_batch
from valle.models import VALLE, get_preset


def loss_and_grads(model, batch, stage):
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the NAR's stage and prefix draws: the same in both passes
    loss = model(batch, stage)["loss"]
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


# (train stage, prefix mode, pre-norm, NAR codebooks per step: several are one batch of blocks of rows)
CASES = [(1, 1, True, 1), (1, 1, False, 1), (2, 1, True, 1), (2, 2, True, 1), (2, 4, True, 1), (2, 1, False, 1),
         (2, 1, True, 3)]


@pytest.mark.parametrize("lens", [((30, 30), (9, 9)), ((30, 17), (9, 5))])  # no padding, and padded text/audio
@pytest.mark.parametrize("stage,prefix_mode,norm_first,per_step", CASES)
def test_the_last_layer_runs_the_rows_the_loss_reads_and_gives_the_full_pass_loss(monkeypatch, lens, stage,
                                                                                 prefix_mode, norm_first, per_step):
    torch.manual_seed(0)
    model = VALLE(get_preset("nano", norm_first=norm_first, dropout=0.0, prefix_mode=prefix_mode))
    batch = dict(make_batch(lens=lens[0], text_lens=lens[1]), nar_stages_per_step=per_step)
    decoder = model.ar_decoder if stage == 1 else model.nar_decoder
    rows = []
    decoder_forward = decoder.forward

    def recording(x, mask, cond=None, cache=None, tail=0):
        out = decoder_forward(x, mask, cond, cache, tail)
        rows.append((x.shape[1], out.shape[1]))
        return out

    monkeypatch.setattr(decoder, "forward", recording)
    ffn_rows = []  # rows the last layer's FFN computes (per call): what the layer really does, not its output
    hook = decoder.layers[-1].linear1.register_forward_pre_hook(lambda m, args: ffn_rows.append(args[0].shape[1]))
    try:
        loss, grads = loss_and_grads(model, batch, stage)
    finally:
        hook.remove()
    L, kept = rows[-1]
    audio_rows = L - batch["text_tokens"].shape[1]  # the rows after the text (the AR's begin with [BOS])
    assert kept == audio_rows if stage == 1 else kept <= audio_rows  # no text row; the NAR: no prompt either
    assert ffn_rows and ffn_rows[-1] == kept < L

    def full_pass(x, mask, cond=None, cache=None, tail=0):  # every row, then the tail
        return decoder_forward(x, mask, cond, cache)[:, x.shape[1] - tail:]

    monkeypatch.setattr(decoder, "forward", full_pass)
    want_loss, want_grads = loss_and_grads(model, batch, stage)
    assert torch.allclose(loss, want_loss, rtol=1e-5, atol=1e-6)
    assert grads.keys() == want_grads.keys()
    for name, g in grads.items():
        assert torch.allclose(g, want_grads[name], rtol=1e-4, atol=1e-6), name
