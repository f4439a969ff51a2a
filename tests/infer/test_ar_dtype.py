"""--dtype auto per phase: the AR may decode in fp32 (the CPU kernel step) while the NAR runs in bf16,
chosen by timing the loaded model both ways (valle.infer.ar_dtype)."""
from __future__ import annotations

import logging

import torch

from valle.infer.ar_dtype import PROBE_FRAMES, choose_ar_dtype
from valle.models import VALLE, get_preset
from valle.models.eos_suppression import suppress_eos
from valle.utils.precision import time_in_dtypes

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
    while the NAR (codebooks 1..7) still ran under bf16."""
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
    assert nar_autocast and all(nar_autocast)  # every NAR pass ran under the caller's bf16 autocast
    assert not torch.equal(_infer(model, bf16=True, ar_fp32=False)[:, 0], fp32[:, 0])  # a bf16 AR decodes other codes
    # and ar_fp32 outside autocast changes nothing
    assert torch.equal(_infer(model, bf16=False, ar_fp32=True), fp32)


def test_choose_ar_dtype_times_both_and_logs(caplog):
    caplog.set_level(logging.INFO)
    model = _nano()
    assert choose_ar_dtype(model, CPU, "float32") == "float32" and "decodes in" not in caplog.text  # no probe
    chosen = choose_ar_dtype(model, CPU, "bfloat16")
    assert chosen in ("float32", "bfloat16")
    line = [r.getMessage() for r in caplog.records if "the AR decodes in" in r.getMessage()]
    assert len(line) == 1 and f"{PROBE_FRAMES} frames" in line[0] and line[0].endswith("the NAR in bfloat16")
    # the model is left as it was: eval mode, fp32 weights; a model in training mode is timed in eval
    # mode (as synthesis runs it) and handed back in training mode
    assert not model.training and all(p.dtype == torch.float32 for p in model.parameters())
    model.train()
    modes = []
    hook = model.ar_decoder.register_forward_pre_hook(lambda m, a: modes.append(m.training))
    try:
        choose_ar_dtype(model, CPU, "bfloat16")
    finally:
        hook.remove()
    assert modes and not any(modes) and model.training


def test_time_in_dtypes_runs_each_side_under_its_dtype():
    seen = []
    times = time_in_dtypes(lambda: seen.append(torch.is_autocast_enabled("cpu")), "bfloat16", CPU, repeats=3)
    assert set(times) == {"float32", "bfloat16"} and all(t >= 0 for t in times.values())
    assert seen == [False, True] * 4  # one warm-up each, then alternated
