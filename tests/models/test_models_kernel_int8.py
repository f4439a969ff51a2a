"""The compiled CPU step with int8 weights (``--quantize int8``): the fp32 step of the dequantized weights."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from model_batches import make_inputs
from valle.models import VALLE, get_preset, step_kernels
from valle.models.decoding import ar_decode
from valle.models.fused_step import preallocated_cache
from valle.models.kernel_step import _UNPACKED, KernelARStep, kernel_step_supported
from valle.models.masks import ar_mask
from valle.models.quantize import quantize_for_synthesis

CPU = torch.device("cpu")


def nano():
    torch.manual_seed(0)
    return VALLE(get_preset("nano")).eval()


def dequantized(model, q):
    """``model`` whose AR linear weights are ``q``'s int8 weights times their scales."""
    deq = copy.deepcopy(model)
    with torch.no_grad():
        for d, i in zip(deq.ar_decoder.layers, q.ar_decoder.layers):
            d.self_attn.in_proj_weight.copy_(i.self_attn.qkv_proj.weight().dequantize())
            for name in ("linear1", "linear2"):
                getattr(d, name).weight.copy_(getattr(i, name).weight().dequantize())
            d.self_attn.out_proj.weight.copy_(i.self_attn.out_proj.weight().dequantize())
        deq.ar_predict_layer.weight.copy_(q.ar_predict_layer.weight().dequantize())
    return deq


def kernel_step_logits(model, prefill_model, tokens):
    """Logits of ``model``'s kernel steps fed ``tokens``, after ``prefill_model``'s prompt pass (one item)."""
    x = make_inputs([9], [12])
    c = prefill_model.config
    seq = torch.cat([torch.full((1, 1), c.bos_id), x["prompts"][:, :12, 0]], dim=1)
    S, A, capacity = x["text_tokens"].shape[1], seq.shape[1], 48
    cache = preallocated_cache(prefill_model, 1, capacity, CPU)
    with torch.no_grad():
        y = prefill_model.ar_audio_position(prefill_model.ar_audio_embedding(seq), positions=torch.arange(A)[None])
        text = prefill_model.embed_text(x["text_tokens"], x["text_langs"], nar=False)
        prefill_model.ar_decoder(torch.cat([text, y], dim=1), ar_mask(S, A, None), cache=cache, tail=1)
        stepper = KernelARStep(model, cache, torch.ones(1, S + A, dtype=torch.bool), capacity)
        return torch.cat([stepper.step(torch.tensor([t]), torch.tensor([A + i])) for i, t in enumerate(tokens)])


def test_the_int8_kernel_step_is_the_fp32_step_of_the_dequantized_weights():
    model = nano()
    q = quantize_for_synthesis(copy.deepcopy(model), "int8")
    # quantization unpacked every int8 map of the AR's step for the kernel (4 per layer and the output layer)
    ar_maps = [m for part in (q.ar_decoder, q.ar_predict_layer) for m in part.modules() if m in _UNPACKED]
    assert len(ar_maps) == 4 * len(q.ar_decoder.layers) + 1
    # a post-norm AR, which the kernel does not run, keeps no unpacked copy
    post = quantize_for_synthesis(VALLE(get_preset("nano", norm_first=False)).eval(), "int8")
    assert not any(m in _UNPACKED for m in post.modules())
    assert kernel_step_supported(q, CPU)
    deq = dequantized(model, q)
    tokens = [5, 700, 31, 1023, 2, 64]
    int8 = kernel_step_logits(q, deq, tokens)  # same prompt pass (fp32, dequantized), then the steps
    fp32_of_deq = kernel_step_logits(deq, deq, tokens)
    fp32 = kernel_step_logits(model, deq, tokens)
    assert (int8 - fp32_of_deq).abs().max() < 1e-4 * fp32_of_deq.abs().max()
    assert (int8 - fp32).abs().max() > 1e-3 * fp32.abs().max()  # the weights were quantized
    assert torch.equal(int8.argmax(-1), fp32_of_deq.argmax(-1))


@pytest.mark.parametrize("tiles", [False, True])
def test_int8_kernel_codes_of_a_batch_equal_one_by_one(tiles, monkeypatch):
    """Activations stay fp32 per row, so (unlike torch's int8 step, which quantizes each step's activations
    over the batch) an item's codes do not depend on its batch-mates, and its logits only by float rounding;
    ``tiles``: every product of 4+ rows takes the kernel's 4 x 4 tiles (a paper-size step's do; nano's weights
    are too small for them)."""
    if tiles:
        monkeypatch.setattr(step_kernels, "TILE_MIN_STEP_BYTES", 0)
    q = quantize_for_synthesis(nano(), "int8")
    lens = ([11, 4, 8, 5, 9], [1, 17, 30, 6, 12], [14, 6, 10, 3, 8])  # 5 rows: a 4 x 4 tile and one more
    x = make_inputs(*lens[:2])

    def decode(rows, width):
        r = torch.tensor(rows)
        n = torch.tensor(lens[2])[r]
        return ar_decode(q, x["text_tokens"][r, :width], x["text_lens"][r], x["text_langs"][r, :width],
                         x["prompts"][r][..., 0], x["prompt_lens"][r], n, top_k=1, min_frames=n, step_mode="kernel",
                         keep_logits=True)

    with torch.no_grad():
        together = decode(list(range(5)), None)  # products over 4 + 1 rows, then fewer as items finish
        # alone without text padding: torch's int8 prompt pass would quantize the padding's activations too
        alone = [decode([i], lens[0][i]) for i in range(5)]
    for i in range(5):
        assert len(together.codes[i]) == lens[2][i]
        assert torch.equal(together.codes[i], alone[i].codes[0])
        # bit for bit on the Zen 5 EPYC; the vectorised sums of 1, 2 and 4 rows may round apart elsewhere
        diff = (together.step_logits[i] - alone[i].step_logits[0])[:, :1024].abs().max()
        assert diff <= 1e-5 * alone[i].step_logits[0][:, :1024].abs().max()


def test_kernel_products_scale_each_weight_row_and_add_the_bias_once():
    """``step_kernels.linear`` on int8 weights with a different scale per output row (per-channel quantization;
    quantize_dynamic's default is one scale for all rows) and on fp32 weights, with and without bias and
    accumulation, for every row-block size (1, 2, 4 and remainders; 4 x 4 tiles from 4 rows on, with outputs
    left over when there are not a multiple of 4, or fewer than 4)."""
    g = np.random.default_rng(0)
    none = np.empty(0, np.float32)
    for n_out in (13, 3):
        w8 = g.integers(-127, 128, size=(n_out, 40)).astype(np.int8)
        scale = g.uniform(0.001, 0.1, size=n_out).astype(np.float32)
        bias = g.standard_normal(n_out).astype(np.float32)
        for w, s in ((w8, scale), (g.standard_normal((n_out, 40)).astype(np.float32), none)):
            w_real = w.astype(np.float64) * (s[:, None] if s.size else 1.0)
            for rows in range(1, 10):
                x = g.standard_normal((rows, 40)).astype(np.float32)
                expected = x.astype(np.float64) @ w_real.T
                for b, add in ((bias, False), (none, False), (bias, True)):
                    for tiles in (True, False):  # 4 x 4 tiles from 4 rows on, or none
                        y = np.ones((rows, n_out), np.float32)
                        step_kernels.linear(x, w, s, b, y, add, tiles)
                        want = expected + (bias if b.size else 0.0) + (1.0 if add else 0.0)
                        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-4)
