"""--dtype auto per phase: the AR may decode in fp32 (the CPU kernel step) while the NAR runs in bf16
(valle.infer.ar_dtype: fp32 when the kernel step covers the AR and its weights fit in the last-level cache)."""
from __future__ import annotations

import logging

import torch

from valle.infer.ar_dtype import ar_step_weight_bytes, choose_ar_dtype, last_level_cache_bytes
from valle.models import VALLE, get_preset
from valle.models.eos_suppression import suppress_eos

CPU = torch.device("cpu")


def _nano():
    torch.manual_seed(0)
    model = VALLE(get_preset("nano")).eval()
    suppress_eos(model)  # every decode runs to its frame limit
    return model


def _infer(model, bf16: bool, ar_fp32: bool):
    g = torch.Generator().manual_seed(1)
    S, P = 12, 30
    text = torch.randint(2, model.config.text_vocab_size, (1, S), generator=g)
    prompts = torch.randint(0, model.config.num_audio_tokens, (1, P, model.config.num_quantizers), generator=g)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return model.inference(text, torch.tensor([S]), torch.tensor([4]), prompts, torch.tensor([P]),
                               text_langs=torch.zeros(1, S, dtype=torch.long), top_k=1, max_new_frames=25,
                               ar_fp32=ar_fp32)[0]


def test_ar_fp32_under_bf16_autocast_decodes_the_fp32_codes():
    """ar_fp32 takes the AR out of the caller's autocast: its codebook 0 is the fp32 decode's, exactly,
    while every NAR pass still runs under bf16."""
    model = _nano()
    fp32 = _infer(model, bf16=False, ar_fp32=False)
    nar_autocast = []
    hook = model.nar_decoder.register_forward_pre_hook(lambda m, a: nar_autocast.append(torch.is_autocast_enabled("cpu")))
    try:
        split = _infer(model, bf16=True, ar_fp32=True)
    finally:
        hook.remove()
    assert fp32.shape == split.shape == (25, model.config.num_quantizers)
    assert torch.equal(split[:, 0], fp32[:, 0])
    assert nar_autocast and all(nar_autocast)
    assert not torch.equal(_infer(model, bf16=True, ar_fp32=False)[:, 0], fp32[:, 0])  # a bf16 AR decodes other codes
    # and ar_fp32 outside autocast changes nothing
    assert torch.equal(_infer(model, bf16=False, ar_fp32=True), fp32)


def test_choose_ar_dtype_by_kernel_and_cache(caplog):
    caplog.set_level(logging.INFO)
    model = _nano()
    weights = ar_step_weight_bytes(model)
    assert weights == 4 * (sum(p.numel() for p in model.ar_decoder.parameters())
                           + sum(p.numel() for p in model.ar_predict_layer.parameters()))
    assert choose_ar_dtype(model, CPU, "float32") == "float32" and "decodes in" not in caplog.text
    # the nano AR is pre-norm with plain linear maps: the fp32 kernel step covers it
    assert choose_ar_dtype(model, CPU, "bfloat16", cache_bytes=weights) == "float32"
    assert choose_ar_dtype(model, CPU, "bfloat16", cache_bytes=weights - 1) == "bfloat16"  # streams from memory
    lines = [r.getMessage() for r in caplog.records if "the AR decodes in" in r.getMessage()]
    assert len(lines) == 2 and all("fp32 kernel step" in m and m.endswith("the NAR in bfloat16") for m in lines)
    # a model left in training mode is judged as synthesis runs it (eval) and handed back as it was
    model.train()
    assert choose_ar_dtype(model, CPU, "bfloat16", cache_bytes=weights) == "float32" and model.training
    # a post-norm AR has no kernel step: it keeps the low-precision dtype whatever its size
    post = VALLE(get_preset("nano", norm_first=False)).eval()
    assert choose_ar_dtype(post, CPU, "bfloat16", cache_bytes=1 << 40) == "bfloat16"


def test_last_level_cache_from_sysfs(tmp_path):
    for i, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "1024K"),
                                              (3, "Unified", "16384K")]):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(f"{level}\n")
        (d / "type").write_text(f"{kind}\n")
        (d / "size").write_text(f"{size}\n")
    assert last_level_cache_bytes(tmp_path) == 16 << 20  # the highest level, instruction caches aside
    assert last_level_cache_bytes(tmp_path / "missing") == 32 << 20  # the default when sysfs says nothing
