"""numba kernels of the AR's single-token step ("kernel" step mode, kernel_step.py): fp32 activations and
sums, weights in fp32 or int8 (``--quantize int8``: each output row's int8 weights times its scale), one
weight row read once for every item of the batch. Imported only when that step runs (numba takes ~0.5 s
to import); compiled once per weight type and cached next to this file (``cache=True``)."""
from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, fastmath=True)
def linear(x, w, scale, bias, y, add):
    """y[r] (+)= (x[r] @ w.T) * scale + bias for every row r; w is [out, in], fp32 or int8, ``scale``
    [out] (empty: none, fp32 weights) and ``bias`` [out] (empty: none). Each weight row is read once
    for all rows of x, and converted once (int8 -> fp32, in registers) for up to four rows at a time;
    a row's sum is the same loop in any batch, so its result depends on its batch-mates at most by float
    rounding (the vectorised sums of 1, 2 and 4 rows may round apart; on the Zen 5 EPYC they were equal)."""
    n_out, n_in = w.shape
    B = x.shape[0]
    has_bias = bias.shape[0] > 0
    has_scale = scale.shape[0] > 0
    sums = np.empty(4, np.float32)
    for o in range(n_out):
        b = bias[o] if has_bias else np.float32(0.0)
        f = scale[o] if has_scale else np.float32(1.0)
        r = 0
        while r < B:
            n = 4 if B - r >= 4 else (2 if B - r >= 2 else 1)  # rows summed together this pass
            if n == 4:
                s0 = np.float32(0.0)
                s1 = np.float32(0.0)
                s2 = np.float32(0.0)
                s3 = np.float32(0.0)
                for i in range(n_in):
                    wi = np.float32(w[o, i])
                    s0 += wi * x[r, i]
                    s1 += wi * x[r + 1, i]
                    s2 += wi * x[r + 2, i]
                    s3 += wi * x[r + 3, i]
                sums[0], sums[1], sums[2], sums[3] = s0, s1, s2, s3
            elif n == 2:
                s0 = np.float32(0.0)
                s1 = np.float32(0.0)
                for i in range(n_in):
                    wi = np.float32(w[o, i])
                    s0 += wi * x[r, i]
                    s1 += wi * x[r + 1, i]
                sums[0], sums[1] = s0, s1
            else:
                s0 = np.float32(0.0)
                for i in range(n_in):
                    s0 += np.float32(w[o, i]) * x[r, i]
                sums[0] = s0
            for k in range(n):
                if add:
                    y[r + k, o] += sums[k] * f + b
                else:
                    y[r + k, o] = sums[k] * f + b
            r += n


@njit(cache=True, fastmath=True)
def layer_norm(x, w, b, eps, y):
    n = x.shape[1]
    for r in range(x.shape[0]):
        mean = np.float32(0.0)
        for i in range(n):
            mean += x[r, i]
        mean /= n
        var = np.float32(0.0)
        for i in range(n):
            d = x[r, i] - mean
            var += d * d
        rstd = np.float32(1.0) / np.sqrt(var / n + eps)
        for i in range(n):
            y[r, i] = (x[r, i] - mean) * rstd * w[i] + b[i]


@njit(cache=True, fastmath=True)
def attend(qkv, kv, key_ok, t, n_heads, out):
    """One query per item over cached keys 0..t (column t just written); keys with
    ``key_ok`` false (padding) get zero weight, as SDPA's -inf mask gives them."""
    D = out.shape[1]
    dh = D // n_heads
    scale = np.float32(1.0 / math.sqrt(dh))
    scores = np.empty(t + 1, np.float32)
    for r in range(qkv.shape[0]):
        for h in range(n_heads):
            q = qkv[r, h * dh: (h + 1) * dh]
            k = kv[0, r, h]
            v = kv[1, r, h]
            top = np.float32(-3.0e38)
            for j in range(t + 1):
                if key_ok[r, j]:
                    s = np.float32(0.0)
                    for d in range(dh):
                        s += q[d] * k[j, d]
                    s *= scale
                    scores[j] = s
                    if s > top:
                        top = s
            total = np.float32(0.0)
            acc = out[r, h * dh: (h + 1) * dh]
            acc[:] = 0.0
            for j in range(t + 1):
                # below e^-87 a weight is subnormal in fp32, below the resolution of the sum: skipped,
                # so no subnormal arithmetic (~100x slower on x86) can reach the accumulator
                if key_ok[r, j] and scores[j] - top > -87.0:
                    p = np.exp(scores[j] - top)
                    total += p
                    for d in range(dh):
                        acc[d] += p * v[j, d]
            for d in range(dh):
                acc[d] /= total


@njit(cache=True)
def embed(tokens, positions, emb, pe):
    """The step's input [B, D]: token embedding + alpha * PE of its position."""
    x = np.empty((tokens.shape[0], emb.shape[1]), np.float32)
    for r in range(tokens.shape[0]):
        for i in range(emb.shape[1]):
            x[r, i] = emb[tokens[r], i] + pe[positions[r], i]
    return x


@njit(cache=True)
def layer_step(x, t, n_heads, kv, key_ok, n1w, n1b, eps1, qkv_w, qkv_s, qkv_b, out_w, out_s, out_b, n2w, n2b, eps2,
               ff1_w, ff1_s, ff1_b, ff2_w, ff2_s, ff2_b):
    """One pre-norm layer for one new position per item, ``x`` [B, D] updated in place; the new
    key and value go to column ``t`` of this layer's cache ``kv`` [2, B, H, capacity, Dh]. Each
    product's weights come as (w, scale, bias), as ``linear`` takes them."""
    B, D = x.shape
    h = np.empty((B, D), np.float32)
    qkv = np.empty((B, 3 * D), np.float32)
    att = np.empty((B, D), np.float32)
    ff = np.empty((B, ff1_w.shape[0]), np.float32)
    layer_norm(x, n1w, n1b, eps1, h)
    linear(h, qkv_w, qkv_s, qkv_b, qkv, False)
    dh = D // n_heads
    for r in range(B):
        for hh in range(n_heads):
            for d in range(dh):
                kv[0, r, hh, t, d] = qkv[r, D + hh * dh + d]
                kv[1, r, hh, t, d] = qkv[r, 2 * D + hh * dh + d]
    attend(qkv, kv, key_ok, t, n_heads, att)
    linear(att, out_w, out_s, out_b, x, True)
    layer_norm(x, n2w, n2b, eps2, h)
    linear(h, ff1_w, ff1_s, ff1_b, ff, False)
    for r in range(B):
        for i in range(ff.shape[1]):
            if ff[r, i] < 0:
                ff[r, i] = 0.0
    linear(ff, ff2_w, ff2_s, ff2_b, x, True)


@njit(cache=True)
def output(x, norm_w, norm_b, eps, head_w, head_s, head_b, logits):
    """The final norm of ``x``, returned, and with ``head_w`` [V, D] non-empty the logits [B, V]."""
    h = np.empty(x.shape, np.float32)
    layer_norm(x, norm_w, norm_b, eps, h)
    if head_w.shape[0] > 0:
        linear(h, head_w, head_s, head_b, logits, False)
    return h


@njit(cache=True)
def greedy(logits):
    """Per row: the first index of the largest logit and its log-softmax (``argmax`` and
    ``log_softmax(...).gather`` in one pass, the sum in float64)."""
    B, V = logits.shape
    ids = np.empty(B, np.int64)
    logprob = np.empty(B, np.float64)
    for r in range(B):
        best = 0
        top = logits[r, 0]
        for j in range(1, V):
            if logits[r, j] > top:
                top = logits[r, j]
                best = j
        total = 0.0
        for j in range(V):
            total += math.exp(np.float64(logits[r, j]) - np.float64(top))
        ids[r] = best
        logprob[r] = -math.log(total)
    return ids, logprob
