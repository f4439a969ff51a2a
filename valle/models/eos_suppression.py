"""``suppress_eos(model)``: make the AR never choose EOS, so decoding runs to its frame limit.

For benchmarks and tests that need a fixed number of frames from a tiny or untrained model. The
predict layer has no bias (the published layout), so feature 0 of the final norm's output is
pinned to 1 and only EOS gets a large negative weight on it.
"""
from __future__ import annotations

import torch


def suppress_eos(model) -> None:
    with torch.no_grad():
        norm = model.ar_decoder.norm
        norm.weight[0] = 0.0
        norm.bias[0] = 1.0
        w = model.ar_predict_layer.weight
        w[:, 0] = 0.0
        w[model.config.eos_id, 0] = -100.0
