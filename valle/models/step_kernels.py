"""numba kernels of the AR's single-token step ("kernel" step mode, kernel_step.py): fp32 activations and
sums, weights in fp32 or int8 (``--quantize int8``: each output row's int8 weights times its scale), one
weight row read once for every item of the batch. Imported only when that step runs (numba takes ~0.5 s
to import); compiled once per weight type and cached next to this file (``cache=True``)."""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from llvmlite.binding import llvm_version_info
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# LLVM names its prefetch by pointer type: ``p0`` with opaque pointers (LLVM 15 on), ``p0i8`` before
_PREFETCH = "llvm.prefetch.p0" if llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"
_AHEAD = 8  # weight rows between the tile being summed and the one being prefetched (two tiles on)
# the smallest step (bytes of its weights, all products) whose products take 4 x 4 tiles (``linear``'s ``tiles``;
# kernel_step.py decides once per stepper). They paid where the weights stream from memory (paper size, int8: 152 MB
# a step; 8 rows 2x, 4 rows 1.4x the one-weight-row loop), not where they stay in the L3 (d256: 13.6 MB fp32; 4 rows
# 1.2-1.4x slower, 8 rows even; docs/benchmarks.md). Above the 32 MiB L3 of the CPUs measured.
TILE_MIN_STEP_BYTES = 64 << 20


@intrinsic
def _prefetch(typingctx, arr, row, col):
    """Ask the CPU to start loading ``arr[row, col]``'s cache line (``llvm.prefetch``: a read, kept in every
    cache level); it returns nothing and never faults."""
    sig = types.void(arr, row, col)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1], args[2]])
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]),
                                            _PREFETCH)
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True, fastmath=True)
def _tile(x, w, o, r, scale, bias, y, add):
    """Outputs o..o+3 of batch rows r..r+3: 16 sums side by side, so each weight element is converted once
    for four rows and each activation read once for four weight rows (in cache ~2x the one-weight-row loop)."""
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = np.float32(0.0)
    s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = np.float32(0.0)
    for i in range(w.shape[1]):
        w0, w1, w2, w3 = np.float32(w[o, i]), np.float32(w[o + 1, i]), np.float32(w[o + 2, i]), np.float32(w[o + 3, i])
        x0, x1, x2, x3 = x[r, i], x[r + 1, i], x[r + 2, i], x[r + 3, i]
        s00 += w0 * x0
        s01 += w0 * x1
        s02 += w0 * x2
        s03 += w0 * x3
        s10 += w1 * x0
        s11 += w1 * x1
        s12 += w1 * x2
        s13 += w1 * x3
        s20 += w2 * x0
        s21 += w2 * x1
        s22 += w2 * x2
        s23 += w2 * x3
        s30 += w3 * x0
        s31 += w3 * x1
        s32 += w3 * x2
        s33 += w3 * x3
    sums = ((s00, s01, s02, s03), (s10, s11, s12, s13), (s20, s21, s22, s23), (s30, s31, s32, s33))
    for j in range(4):
        f = scale[o + j] if scale.shape[0] > 0 else np.float32(1.0)
        b = bias[o + j] if bias.shape[0] > 0 else np.float32(0.0)
        for k in range(4):
            v = sums[j][k] * f + b
            if add:
                y[r + k, o + j] += v
            else:
                y[r + k, o + j] = v


@njit(cache=True, fastmath=True)
def _rows(x, w, scale, bias, y, add, o_from, o_to, r_from, r_to):
    """Outputs o_from..o_to-1 of batch rows r_from..r_to-1, one weight row at a time: each weight row is read
    once and converted once (int8 -> fp32, in registers) for up to four batch rows."""
    n_in = w.shape[1]
    has_bias = bias.shape[0] > 0
    has_scale = scale.shape[0] > 0
    sums = np.empty(4, np.float32)
    for o in range(o_from, o_to):
        b = bias[o] if has_bias else np.float32(0.0)
        f = scale[o] if has_scale else np.float32(1.0)
        r = r_from
        while r < r_to:
            n = 4 if r_to - r >= 4 else (2 if r_to - r >= 2 else 1)  # rows summed together this pass
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
def linear(x, w, scale, bias, y, add, tiles):
    """y[r] (+)= (x[r] @ w.T) * scale + bias for every row r; w is [out, in], fp32 or int8, ``scale``
    [out] (empty: none, fp32 weights) and ``bias`` [out] (empty: none). Each weight row is read from memory
    once for all rows of x. With ``tiles`` and four or more rows, groups of four rows take 4 x 4 tiles
    (``_tile``) while the weight rows ``_AHEAD`` further on are prefetched (four weight rows read side by side
    are four short streams, which the CPU's own prefetcher follows poorly); the other rows (and the last
    ``n_out % 4`` outputs) take the one-weight-row loop. A row's sum is a vectorised loop whose order the
    compiler picks per loop, so its result may depend on its batch-mates by float rounding."""
    n_out, n_in = w.shape
    B = x.shape[0]
    tiled_rows = B - B % 4 if tiles else 0
    tiled_outs = n_out - n_out % 4 if tiled_rows > 0 else 0
    line = max(1, 64 // w.itemsize)  # elements per 64-byte cache line
    for o in range(0, tiled_outs, 4):
        for p in range(o + _AHEAD, min(o + _AHEAD + 4, n_out)):
            for i in range(0, n_in, line):
                _prefetch(w, p, i)
        for r in range(0, tiled_rows, 4):
            _tile(x, w, o, r, scale, bias, y, add)
        _rows(x, w, scale, bias, y, add, o, o + 4, tiled_rows, B)  # the rest, while these weight rows are in cache
    _rows(x, w, scale, bias, y, add, tiled_outs, n_out, 0, B)


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
def attend(qkv, kv, key_ok, rows, t, n_heads, out):
    """One query per item over cached keys 0..t (column t just written); item r's keys are cache row
    ``rows[r]``; keys with ``key_ok`` false (padding) get zero weight, as SDPA's -inf mask gives them."""
    D = out.shape[1]
    dh = D // n_heads
    scale = np.float32(1.0 / math.sqrt(dh))
    scores = np.empty(t + 1, np.float32)
    for r in range(qkv.shape[0]):
        for h in range(n_heads):
            q = qkv[r, h * dh: (h + 1) * dh]
            k = kv[0, rows[r], h]
            v = kv[1, rows[r], h]
            ok = key_ok[rows[r]]
            top = np.float32(-3.0e38)
            for j in range(t + 1):
                if ok[j]:
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
                if ok[j] and scores[j] - top > -87.0:
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
def layer_step(x, t, n_heads, kv, key_ok, rows, tiles, n1w, n1b, eps1, qkv_w, qkv_s, qkv_b, out_w, out_s, out_b,
               n2w, n2b, eps2, ff1_w, ff1_s, ff1_b, ff2_w, ff2_s, ff2_b):
    """One pre-norm layer for one new position per item, ``x`` [B, D] updated in place; the new
    key and value go to column ``t`` of this layer's cache ``kv`` [2, batch, H, capacity, Dh], item r's in
    its row ``rows[r]`` (items that finished keep their rows: nothing is copied when the batch shrinks). Each
    product's weights come as (w, scale, bias), as ``linear`` takes them (with ``tiles``)."""
    B, D = x.shape
    h = np.empty((B, D), np.float32)
    qkv = np.empty((B, 3 * D), np.float32)
    att = np.empty((B, D), np.float32)
    ff = np.empty((B, ff1_w.shape[0]), np.float32)
    layer_norm(x, n1w, n1b, eps1, h)
    linear(h, qkv_w, qkv_s, qkv_b, qkv, False, tiles)
    dh = D // n_heads
    for r in range(B):
        for hh in range(n_heads):
            for d in range(dh):
                kv[0, rows[r], hh, t, d] = qkv[r, D + hh * dh + d]
                kv[1, rows[r], hh, t, d] = qkv[r, 2 * D + hh * dh + d]
    attend(qkv, kv, key_ok, rows, t, n_heads, att)
    linear(att, out_w, out_s, out_b, x, True, tiles)
    layer_norm(x, n2w, n2b, eps2, h)
    linear(h, ff1_w, ff1_s, ff1_b, ff, False, tiles)
    for r in range(B):
        for i in range(ff.shape[1]):
            if ff[r, i] < 0:
                ff[r, i] = 0.0
    linear(ff, ff2_w, ff2_s, ff2_b, x, True, tiles)


@njit(cache=True)
def output(x, norm_w, norm_b, eps, head_w, head_s, head_b, logits, tiles):
    """The final norm of ``x``, returned, and with ``head_w`` [V, D] non-empty the logits [B, V]."""
    h = np.empty(x.shape, np.float32)
    layer_norm(x, norm_w, norm_b, eps, h)
    if head_w.shape[0] > 0:
        linear(h, head_w, head_s, head_b, logits, False, tiles)
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
