"""codec2 1200's pitch/energy fields as absolute classes, so that a code means the same at every frame.

codec2 1200 codes pitch and energy of each 20 ms half-frame with one 8-bit joint vector quantiser
(``encode_WoE`` in codec2's quantise.c), and the quantiser is *predictive*: the decoder keeps a state
``xq = (log2(f0 / 50 Hz), energy in dB)`` and each index adds a codebook entry to a decayed copy of it,
``xq = (0.8, 0.9) * xq + ge_cb[index]``. An index is therefore a step relative to everything before
it: the same pitch and energy get a different index at every frame, and one wrong index moves every
later frame. A NAR that predicts all frames at once cannot learn such steps from a few hundred
sentences (measured, docs/benchmarks.md "codec2 1200's pitch/energy as absolute cells": with the
true codebook 0, the model's pitch/energy codes alone cost 14 WER points on unseen sentences).

So the codes hold the decoded state instead: ``absolute_classes`` runs the decoder's recurrence over
the indices and cuts each state into 16 pitch x 16 energy cells (the cell is the code); ``indices_for``
turns a stream of cells back into indices the way codec2's encoder does it: in closed loop, for each
half-frame the index whose step brings the decoder's state nearest the cell's centre (codec2's own
weighted distance); ``cells_from_fields`` and ``fields_for`` do the same on the 8-bit fields as
codec2's ``pack`` writes them (Gray-coded). Both start from the decoder's initial state (0, 0), as every codec2 decode in
valle does (a fresh decoder per utterance). Cells of 0.11 octave x 3.4 dB cost nothing audible to
the recogniser: resynthesis of the 20 held-out grammar utterances 10.8 % WER either way.

The 256 x 2 table ``ge_cb`` is read from the libcodec2 that pycodec2 bundles (its exported symbol),
or from the system's libcodec2 when pycodec2 was built against it.
"""
from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np

from valle.codec.base import CodecError

COEFF = np.array([0.8, 0.9])  # codec2's ge_coeff: the decay of the decoder's (pitch, energy) state
PITCH_CELLS, ENERGY_CELLS = 16, 16
PITCH_RANGE = (1.0, 2.8)  # log2(f0 / 50 Hz): 100-348 Hz; outside it the edge cells
ENERGY_RANGE = (-10.0, 45.0)  # dB
FIELD_BITS = 8  # 16 x 16 cells, the width of codec2's index


class _LspCodebook(ctypes.Structure):  # codec2's ``struct lsp_codebook``
    _fields_ = [("k", ctypes.c_int), ("log2m", ctypes.c_int), ("m", ctypes.c_int),
                ("cb", ctypes.POINTER(ctypes.c_float))]


@functools.lru_cache(maxsize=1)
def ge_codebook() -> np.ndarray:
    """codec2's joint pitch/energy codebook ``float64[256, 2]``, from pycodec2's bundled libcodec2 (or the
    system's)."""
    import ctypes.util

    import pycodec2

    libs = [str(p) for p in sorted(Path(pycodec2.__file__).resolve().parent.parent.glob("pycodec2.libs/libcodec2*.so*"))]
    libs += [found for found in [ctypes.util.find_library("codec2")] if found]  # pycodec2 built against the system's
    if not libs:
        raise CodecError("codec2:1200 needs libcodec2 (bundled with the pycodec2 wheel in pycodec2.libs/, or the "
                         "system's); reinstall it: pip install --force-reinstall pycodec2==4.1.1")
    try:
        table = _LspCodebook.in_dll(ctypes.CDLL(libs[0]), "ge_cb")
    except (OSError, ValueError) as e:
        raise CodecError(f"{libs[0]}: cannot read codec2's ge_cb table ({e}); pin pycodec2==4.1.1") from None
    if (table.k, table.m) != (2, 1 << FIELD_BITS):
        raise CodecError(f"{libs[0]}: ge_cb is {table.m} x {table.k}, expected 256 x 2: pin pycodec2==4.1.1")
    return np.ctypeslib.as_array(table.cb, shape=(table.m * table.k,)).reshape(table.m, table.k).astype(np.float64)


def _cell_edges():
    return np.array([PITCH_RANGE[0], ENERGY_RANGE[0]]), np.array([PITCH_RANGE[1] - PITCH_RANGE[0],
                                                                 ENERGY_RANGE[1] - ENERGY_RANGE[0]])


def absolute_classes(indices: np.ndarray) -> np.ndarray:
    """codec2 pitch/energy indices of consecutive half-frames ``[n]`` -> their cells ``[n]`` (0..255)."""
    cb = ge_codebook()
    state, states = np.zeros(2), np.empty((len(indices), 2))
    for t, index in enumerate(np.asarray(indices, dtype=np.int64)):
        state = COEFF * state + cb[index]
        states[t] = state
    low, span = _cell_edges()
    cells = np.floor((states - low) / span * [PITCH_CELLS, ENERGY_CELLS])
    pitch = np.clip(cells[:, 0], 0, PITCH_CELLS - 1).astype(np.int64)
    energy = np.clip(cells[:, 1], 0, ENERGY_CELLS - 1).astype(np.int64)
    return pitch * ENERGY_CELLS + energy


def cells_from_fields(fields: np.ndarray) -> np.ndarray:
    """codec2's pitch/energy fields of consecutive half-frames as its ``pack`` writes them (indices
    Gray-coded; any ints, only the low 8 bits count) ``[n]`` -> their cells ``[n]``."""
    indices = np.asarray(fields, dtype=np.int64) & ((1 << FIELD_BITS) - 1)
    for shift in (1, 2, 4):  # Gray code -> index
        indices = indices ^ (indices >> shift)
    return absolute_classes(indices)


def fields_for(cells: np.ndarray) -> np.ndarray:
    """Cells of consecutive half-frames ``[n]`` (only the low 8 bits count) -> codec2's pitch/energy fields as its ``pack`` writes
    them (the closed-loop indices of ``indices_for``, Gray-coded)."""
    indices = indices_for(cells)
    return indices ^ (indices >> 1)


def _weights(target: np.ndarray, state: np.ndarray) -> np.ndarray:
    """codec2's ``compute_weights2``: squared weights of the pitch and energy errors."""
    w = np.array([30.0, 1.0])
    if target[1] < 0:
        w *= (0.6, 0.3)
    if target[1] < -10:
        w *= (0.3, 0.3)
    if abs(target[0] - state[0]) < 0.2:
        w *= (2.0, 1.5)
    elif abs(target[0] - state[0]) > 0.5:
        w[0] *= 0.5
    if target[1] < state[1] - 10:
        w[1] *= 0.5
    if target[1] < state[1] - 20:
        w[1] *= 0.5
    return w * w


def indices_for(cells: np.ndarray) -> np.ndarray:
    """Cells of consecutive half-frames ``[n]`` (any ints; only the low 8 bits count) -> codec2
    indices, chosen in closed loop as codec2's encoder chooses them."""
    cb = ge_codebook()
    cells = np.asarray(cells, dtype=np.int64) & ((1 << FIELD_BITS) - 1)
    low, span = _cell_edges()
    centres = low + (np.stack([cells // ENERGY_CELLS, cells % ENERGY_CELLS], axis=1) + 0.5) \
        * span / [PITCH_CELLS, ENERGY_CELLS]
    state, out = np.zeros(2), np.empty(len(cells), dtype=np.int64)
    for t, target in enumerate(centres):
        step = target - COEFF * state
        out[t] = int(np.argmin((((step - cb) ** 2) * _weights(target, state)).sum(axis=1)))
        state = COEFF * state + cb[out[t]]
    return out
