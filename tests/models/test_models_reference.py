"""reference/vallex_small.pt loads strictly and reproduces the published implementation's outputs."""
from __future__ import annotations

import torch

from reference_case import case_inputs
from valle.models.decoding import ar_decode, nar_decode
from valle.models.masks import ar_mask

TOL = 1e-4


def test_read_published_without_extra_flags(vallex_small, reference_dir):
    model, case, info = vallex_small
    assert info["format"] == "vallex-published"
    c = model.config
    assert (c.d_model, c.nhead, c.num_layers, c.text_vocab_size, c.num_languages, c.prepend_bos) == \
        (256, 4, 2, 2048, 3, True)
    assert sum(p.numel() for p in model.parameters()) == 7_754_500


def test_ar_teacher_forced_and_first_step(vallex_small):
    model, case, _ = vallex_small
    out = case["cases"][0]["outputs"]
    x = case_inputs(case["cases"][0])
    S = x["text_tokens"].shape[1]
    with torch.no_grad():
        text = model.embed_text(x["text_tokens"], x["text_langs"], nar=False)
        y_in = torch.cat([torch.tensor([[model.config.bos_id]]), x["audio_prompts"][..., 0]], dim=1)
        y = model.ar_audio_position(model.ar_audio_embedding(y_in))
        xy = torch.cat([text, y], dim=1)
        assert torch.allclose(xy, out["ar_xy_pos_step0"], atol=TOL)
        mask = ar_mask(S, y.shape[1], None)
        assert torch.equal(~mask, out["ar_attn_mask_step0"])  # reference: True = blocked
        h = model.ar_decoder(xy, mask)
        assert torch.allclose(h, out["ar_hidden_step0"], atol=TOL)
        logits = model.ar_predict_layer(h[:, S:])
    assert torch.allclose(logits, out["ar_teacher_forced_logits_over_prompt"], atol=TOL)
    assert torch.allclose(logits[:, -1], out["ar_first_step_logits"], atol=TOL)


def test_greedy_decoding_reproduces_codes_and_logits(vallex_small):
    model, case, _ = vallex_small
    out = case["cases"][0]["outputs"]
    x = case_inputs(case["cases"][0])
    n = case["max_new_frames"]
    with torch.no_grad():
        ar = ar_decode(model, x["text_tokens"], x["text_lens"], x["text_langs"], x["audio_prompts"][..., 0],
                       x["prompt_lens"], torch.tensor([n]), top_k=1, keep_logits=True)
        assert torch.equal(ar.codes[0], out["ar_generated_q0"])
        assert (ar.step_logits[0] - out["ar_step_logits"][:n]).abs().max() < TOL
        codes, nar_logits = nar_decode(model, x["text_tokens"], x["text_lens"], x["text_langs"],
                                       x["audio_prompts"], x["prompt_lens"], ar.codes, keep_logits=True)
    Tp = x["audio_prompts"].shape[1]
    for i, ref in enumerate(out["nar_logits"]):
        assert (nar_logits[i][:, Tp:] - ref).abs().max() < TOL, f"NAR stage {i}"
    assert torch.equal(codes[0], out["codes"][0])
    # the public entry point gives the same codes
    got = model.inference(**x, top_k=1, max_new_frames=n)
    assert torch.equal(got[0], out["codes"][0])
