"""Length-aware Encodec encoding: a batch of cuts of different lengths, each coded exactly as alone.

Why not just pad and call ``model.encode``: the causal 24 kHz encoder pads every strided
convolution on the right with a *reflection* of the last samples (encodec's ``pad1d``, mode
``reflect``, "extra padding" up to a whole stride). In a right-padded batch a short cut would see
the batch's zeros there instead of its own reflection, so its last frame could change. This
module walks the encoder layer by layer, tracks each item's valid length, and writes each item's
own reflection before every convolution; everything else in the encoder (left padding, LSTM,
ELU, quantizer) is causal or pointwise, so the valid frames are the ones encodec computes for the
cut alone, and trimming to each cut's frame count is exact.

It is also the fast path for one cut on CPU: building the padded input with one copy is cheaper
than ``F.pad(mode="reflect")`` on long signals, and ELUs run in place.
Tests compare the codes with ``model.encode`` for equality.
"""
from __future__ import annotations

import math
from typing import List, Sequence

import torch
import torch.nn.functional as F

# Inputs shorter than this go through ``model.encode`` one at a time: encodec's pad1d has a
# special case for signals shorter than the padding, which tiny deep-layer lengths would hit.
MIN_FAST_SAMPLES = 4800


def _extra_padding(length: int, kernel: int, stride: int, padding_total: int) -> int:
    """Right padding that makes the last convolution window complete (encodec's rule)."""
    n_frames = (length - kernel + padding_total) / stride + 1
    ideal_length = (math.ceil(n_frames) - 1) * stride + (kernel - padding_total)
    return ideal_length - length


def _conv(sconv, x: torch.Tensor, lengths: List[int]):
    """encodec ``SConv1d`` (causal, reflect padding) on a batch with per-item valid lengths."""
    if not sconv.causal or sconv.pad_mode != "reflect":
        raise ValueError("codec_batch supports the causal, reflect-padded 24 kHz Encodec only")
    conv = sconv.conv.conv
    kernel, stride, dilation = conv.kernel_size[0], conv.stride[0], conv.dilation[0]
    padding_total = (kernel - 1) * dilation - (stride - 1)
    extras = [_extra_padding(n, kernel, stride, padding_total) for n in lengths]
    batch, channels, width = x.shape
    if min(lengths) <= max([padding_total] + extras):
        raise ValueError("input too short for the batched encoder")
    span = (kernel - 1) * dilation + 1
    if padding_total == 0 and not any(extras):  # 1x1 convolutions: nothing to pad, no copy
        y = sconv.conv.norm(conv(x))
        return y, [(n - span) // stride + 1 for n in lengths]
    padded_width = padding_total + max(width, max(n + e for n, e in zip(lengths, extras)))
    padded = x.new_empty(batch, channels, padded_width)
    if padding_total:
        # reflect without the edge sample: x[p], x[p-1], ..., x[1]
        padded[..., :padding_total] = x[..., 1:padding_total + 1].flip(-1)
    padded[..., padding_total:padding_total + width] = x
    if padded_width > padding_total + width:
        padded[..., padding_total + width:] = 0
    for i, (n, e) in enumerate(zip(lengths, extras)):
        if e:
            start = padding_total + n
            padded[i, :, start:start + e] = x[i, :, n - 1 - e:n - 1].flip(-1)
    y = sconv.conv.norm(conv(padded))
    new_lengths = [(n + padding_total + e - span) // stride + 1 for n, e in zip(lengths, extras)]
    return y, new_lengths


def _run(modules: Sequence[torch.nn.Module], x: torch.Tensor, lengths: List[int], own_input: bool):
    """Apply encoder ``modules`` in order; ``own_input`` says ``x`` may be overwritten in place."""
    from encodec.modules.conv import SConv1d
    from encodec.modules.lstm import SLSTM
    from encodec.modules.seanet import SEANetResnetBlock

    for module in modules:
        if isinstance(module, SConv1d):
            x, lengths = _conv(module, x, lengths)
            own_input = True
        elif isinstance(module, torch.nn.ELU):
            x = F.elu(x, alpha=module.alpha, inplace=own_input)
            own_input = True
        elif isinstance(module, SEANetResnetBlock):
            if isinstance(module.shortcut, torch.nn.Identity):
                skip = x
            else:
                skip, _ = _run([module.shortcut], x, lengths, own_input=False)
            y, _ = _run(list(module.block), x, lengths, own_input=False)
            x = skip.add_(y) if skip is not x else skip + y
            own_input = True
        elif isinstance(module, SLSTM):
            x = module(x)
            own_input = True
        else:
            raise ValueError(f"codec_batch: unexpected encoder layer {type(module).__name__}")
    return x, lengths


def num_frames(num_samples: int) -> int:
    """Frames Encodec 24 kHz gives for ``num_samples`` samples: ceil(samples / 320)."""
    return math.ceil(num_samples / 320)


@torch.inference_mode()
def encode_batch(model, wavs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """Codes ``LongTensor[frames_i, 8]`` (on CPU) for each 24 kHz mono ``wavs[i]`` (``[samples]``).

    The items are right-padded into one batch on the model's device; each result equals
    ``model.encode`` on that item alone (up to floating-point differences of batched kernels).
    """
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    results: List[torch.Tensor] = [None] * len(wavs)  # type: ignore[list-item]
    fast = [i for i, w in enumerate(wavs) if w.shape[-1] >= MIN_FAST_SAMPLES]
    for i in range(len(wavs)):
        if wavs[i].shape[-1] < MIN_FAST_SAMPLES:
            x = wavs[i].reshape(1, 1, -1).to(device=device, dtype=dtype)
            codes, _ = model.encode(x)[0]
            results[i] = codes[0].transpose(0, 1).cpu()
    if fast:
        lengths = [int(wavs[i].shape[-1]) for i in fast]
        x = torch.zeros(len(fast), 1, max(lengths), device=device, dtype=dtype)
        for row, i in enumerate(fast):
            x[row, 0, :lengths[row]] = wavs[i].reshape(-1).to(device=device, dtype=dtype)
        emb, frame_counts = _run(list(model.encoder.model), x, lengths, own_input=True)
        codes = model.quantizer.encode(emb, model.frame_rate, model.bandwidth)  # [K, B, T]
        codes = codes.permute(1, 2, 0).cpu()  # [B, T, K]
        for row, i in enumerate(fast):
            results[i] = codes[row, :frame_counts[row]].clone()
    return results
