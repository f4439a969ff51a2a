"""DNSMOS P.835 raw scores of overlapping windows, with the convolutions they share computed once.

The official protocol scores 9.01 s windows 1 s apart, so a clip doubled to 17.6 s costs 8 windows
that overlap by 8 s.  The model (``sig_bak_ovr.onnx``) is: 320-sample frames with a 160-sample hop
(900 frames a window) -> log power spectrum -> four 3x3 "same" convolutions at full resolution
(~95 % of its cost) -> max pooling, three smaller convolutions, a global max and dense layers.
A 1 s hop is 100 frames, so window ``k``'s frames are frames ``100 k ..`` of the whole span and its
spectrogram is a slice of the span's.  Convolutions commute with that slice except within 4 frames
of a window's edges, where the window's own zero padding differs from the span's real neighbours.

So: the log spectrogram of each window (cheap, per frame), stitched into the span's; the four
full-resolution convolutions once over the span; each interior edge's 4 frames recomputed from an
8-frame strip with the window's zero padding (all strips in one batched run); then the rest of the
network per window.  Every window's input to the rest is the one the whole model would have built,
so the scores equal the per-window model's (float rounding: within 1e-6 measured, tests check it).

The split graphs are cut out of the bundled model with the ``onnx`` package at load time.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np

HOP_FRAMES = 100  # 1 s hop / 160-sample frame hop
EDGE = 4  # frames of a window's edge that feel its zero padding: one per full-resolution 3x3 conv
SPEC = "adjusted_input6"  # [N, 1, frames, 161] log power spectrum (NCHW), the first conv's input
FRONT = "mos_estimator_logpow/conv2d_3/Relu:0"  # [N, 32, frames, 161] after the 4th conv
OUTPUT = "Identity:0"  # [N, 3] raw sig, bak, ovrl
TAIL_BATCH = 4  # windows per run of the rest of the network ([4, 32, 900, 161] floats = 74 MB)


def _cut(model, inputs: Dict[str, list], output: str):
    """The sub-model computing ``output`` from ``inputs`` (name -> shape, None for the original)."""
    import onnx
    from onnx import helper

    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    needed, stack = set(), [output]
    while stack:
        name = stack.pop()
        if name in inputs or name not in producer or id(producer[name]) in needed:
            continue
        needed.add(id(producer[name]))
        stack.extend(producer[name].input)
    nodes = [n for n in graph.node if id(n) in needed]
    used = {i for n in nodes for i in n.input}
    value_inputs = []
    for name, shape in inputs.items():
        if shape is None:
            value_inputs.append(next(i for i in graph.input if i.name == name))
        else:
            value_inputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape))
    sub = helper.make_graph(nodes, f"dnsmos_{output}", value_inputs,
                            [helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, None)],
                            initializer=[t for t in graph.initializer if t.name in used])
    out = helper.make_model(sub, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    return out.SerializeToString()


class SharedWindows:
    """``raw(windows)``: the model's ``[windows, 3]`` output for consecutive 1 s-hop windows."""

    def __init__(self, model_path: str, options):
        import onnx
        import onnxruntime as ort

        model = onnx.load(model_path)
        make = lambda data: ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])  # noqa: E731
        self._spec = make(_cut(model, {"input_1": None}, SPEC))
        self._front = make(_cut(model, {SPEC: ["N", 1, "T", 161]}, FRONT))
        self._tail = make(_cut(model, {FRONT: ["N", 32, 900, 161]}, OUTPUT))

    def raw(self, windows: np.ndarray) -> np.ndarray:
        spec = self._spec.run(None, {"input_1": windows})[0]  # [K, 1, 900, 161]
        k, frames = spec.shape[0], spec.shape[2]
        span = np.concatenate([spec[0]] + [s[:, frames - HOP_FRAMES:] for s in spec[1:]], axis=1)[None]
        front = self._front.run(None, {SPEC: span})[0][0]  # [32, span frames, 161]
        strips: List[np.ndarray] = []  # the 2 EDGE frames of each interior edge, window-padded
        for i in range(1, k):
            strips.append(spec[i][:, : 2 * EDGE])  # window i's left edge
            strips.append(spec[i - 1][:, frames - 2 * EDGE:])  # window i-1's right edge
        edges = self._front.run(None, {SPEC: np.stack(strips)})[0] if strips else None
        out = []
        for start in range(0, k, TAIL_BATCH):
            batch = []
            for i in range(start, min(k, start + TAIL_BATCH)):
                w = front[:, i * HOP_FRAMES: i * HOP_FRAMES + frames].copy()
                if i > 0:
                    w[:, :EDGE] = edges[2 * (i - 1)][:, :EDGE]
                if i < k - 1:
                    w[:, frames - EDGE:] = edges[2 * i + 1][:, EDGE:]
                batch.append(w)
            out.append(self._tail.run(None, {FRONT: np.stack(batch)})[0])
        return np.concatenate(out)
