"""The one-pass NAR (``nar_parallel``): codebooks 1..Q-1 from one decoder pass over codebook 0,
in training and in decoding."""
from __future__ import annotations

import math

import pytest
import torch

from model_batches import make_batch, make_inputs
from valle.models import VALLE, get_preset
from valle.models.decoding import nar_decode


def model_for(**kw):
    torch.manual_seed(0)
    return VALLE(get_preset("nano", share_embedding=False, nar_parallel=True, **kw))


def run(model, batch, stage, seed=7):
    torch.manual_seed(seed)  # the prefix length comes from the global RNG
    return model(batch, stage)


@pytest.mark.parametrize("mode,Q", [(0, 8), (1, 8), (2, 5), (4, 2), (1, 5), (4, 8)])
def test_one_pass_nar_trains_every_codebook_from_one_decoder_pass(mode, Q):
    """``nar_parallel``: one NAR decoder pass per batch whatever ``nar_stages_per_step`` says, every
    output layer trained, the loss the mean of each codebook's (the pinned validation stages read the
    same pass), and the input of the target frames is codebook 0 alone."""
    model = model_for(prefix_mode=mode, num_quantizers=Q).eval()
    batch = make_batch()
    passes = []
    hook = model.nar_decoder.register_forward_hook(lambda m, i, o: passes.append(i[0].shape[0]))
    every = run(model, dict(batch, nar_stages_per_step=Q - 1), 2, seed=3)
    assert passes == [2]  # B rows once, not one block per codebook
    hook.remove()
    alone = [run(model, dict(batch, nar_stage=s), 2, seed=3) for s in range(1, Q)]
    assert every["nar_frames"] == sum(a["nar_frames"] for a in alone)
    assert math.isclose(float(every["nar_loss"]), sum(float(a["nar_loss"]) for a in alone) / (Q - 1), rel_tol=1e-5)
    if mode != 2:  # (mode 2's prompt is a segment of the utterance itself, upper codebooks included)
        upper_changed = batch["audio_codes"].clone()
        upper_changed[:, 20:, 1:] = (upper_changed[:, 20:, 1:] + 1) % 1024  # targets only (past any prefix)
        logits = {}
        last = model.nar_predict_layers[Q - 2]
        hook = last.register_forward_hook(lambda m, i, o: logits.setdefault(len(logits), o))
        run(model, dict(batch, nar_stage=Q - 1), 2, seed=3)
        run(model, dict(batch, audio_codes=upper_changed, nar_stage=Q - 1), 2, seed=3)
        hook.remove()
        assert torch.equal(logits[0], logits[1])  # codebooks 1..Q-1 of the targets are not read
    model.train()
    run(model, batch, 2, seed=5)["loss"].backward()
    assert all(layer.weight.grad is not None for layer in model.nar_predict_layers)


@pytest.mark.parametrize("mode,Q", [(0, 8), (1, 8), (4, 5), (2, 3)])
def test_one_pass_nar_decodes_every_codebook_from_one_decoder_pass(mode, Q):
    """Decoding runs the NAR decoder once; codebook k is the argmax of output layer k-1 over that
    pass, and a staged model of the same weights gives other codes (it feeds each stage's output on)."""
    model = model_for(prefix_mode=mode, num_quantizers=Q).eval()
    inp = make_inputs(text_lens=(9,), prompt_lens=(12,))
    q0 = [torch.randint(0, 1024, (15,), generator=torch.Generator().manual_seed(2))]
    args = (inp["text_tokens"], inp["text_lens"], inp["text_langs"], inp["prompts"], inp["prompt_lens"], q0)
    seen = []
    hook = model.nar_decoder.register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        codes, logits = nar_decode(model, *args, keep_logits=True)
    hook.remove()
    assert len(seen) == 1 and codes[0].shape == (15, Q)
    assert torch.equal(codes[0][:, 0], q0[0])
    h = seen[0][0, 9 + 12:]
    for k in range(1, Q):
        assert torch.equal(codes[0][:, k], model.nar_predict_layers[k - 1](h).argmax(-1))
    model.config.nar_parallel = False
    with torch.no_grad():
        staged, _ = nar_decode(model, *args)
    assert torch.equal(staged[0][:, :2], codes[0][:, :2]) and not torch.equal(staged[0], codes[0])


def test_a_staged_ar_checkpoint_combines_with_a_one_pass_nar_checkpoint(tmp_path):
    """How the NAR decodes is the NAR checkpoint's own: the merged model takes its ``nar_parallel``,
    while any other difference between the two files is still refused."""
    from valle.infer.model_loading import CheckpointLoadError, load_synthesis_model
    from valle.train.checkpoint import save_checkpoint

    staged, one_pass = VALLE(get_preset("nano", share_embedding=False)), model_for()
    ar = save_checkpoint(tmp_path / "ar.pt", train_stage=0, model=staged.state_dict(),
                         model_config=staged.config.to_dict())
    nar = save_checkpoint(tmp_path / "nar.pt", train_stage=0, model=one_pass.state_dict(),
                          model_config=one_pass.config.to_dict())
    loaded = load_synthesis_model(ar_checkpoint=ar, nar_checkpoint=nar)
    assert loaded.model.config.nar_parallel and loaded.config.nar_parallel
    assert torch.equal(loaded.model.nar_predict_layers[3].weight, one_pass.nar_predict_layers[3].weight)
    assert not load_synthesis_model(ar_checkpoint=nar, nar_checkpoint=ar).config.nar_parallel
    wider = VALLE(get_preset("nano", share_embedding=False, nar_parallel=True, d_model=128))
    nar2 = save_checkpoint(tmp_path / "nar2.pt", train_stage=2, model=wider.state_dict(),
                           model_config=wider.config.to_dict())
    with pytest.raises(CheckpointLoadError, match="different architectures.*d_model"):
        load_synthesis_model(ar_checkpoint=ar, nar_checkpoint=nar2)
