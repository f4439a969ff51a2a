"""codec2 1200 (``--codec codec2:1200``): 8 kHz speech as 5 codebooks of 1024 at 25 frames per second.

Why a second codec2 mode: a model learns to speak from codebook 0 (the AR predicts it, the NAR
fills in the rest), so codebook 0 has to say *what* is being said. In codec2 3200 every field is a
scalar index; the 8 bits that can go to codebook 0 (voicing and the top bit of pitch, energy and
four LSP differences) are nearly constant through voiced speech: measured on the demo's grammar
corpus, codebook 0 was 208 or 209 for most voiced frames, and a model trained on it for ~500 steps
generated 208 forever on every sentence, training sentences included. codec2 1200 codes the
spectral envelope with a three-stage vector quantiser of the ten LSPs; its first stage (512
entries) is a coarse class of the whole envelope, i.e. of the sound being made, the role
Encodec's first residual codebook plays. Measured with pocketsphinx held to the demo grammar on 40
espeak-ng utterances: codec2 1200 resynthesis 4.6% WER, 3200 5.0%.

The 48 bits of a 40 ms frame (codec2.c ``codec2_encode_1200``, MSB first; every field Gray-coded
by ``pack``) are: voicing of 10 ms quarter 1 and 2, the joint Wo/energy VQ index of the first
half (8 bits), voicing of quarters 3 and 4, the Wo/energy index of the second half (8), the three
LSP VQ stage indices (9 + 9 + 9), one spare bit (always 0). The LSP fields are VQ labels, so their
bits are kept as they are (no Gray decoding: adjacent labels mean nothing). The pitch/energy fields
are replaced by absolute cells of the decoded pitch and energy (codec2_woe.py: codec2 codes them as
steps from the previous half-frame, which a NAR cannot learn from a few hundred sentences). Codes,
coarse to fine:

=========  ==========================================================  =====
codebook   bits                                                         range
=========  ==========================================================  =====
0          LSP stage 1 (the envelope class) + voicing of quarter 1      0..1023
1          pitch/energy cell, first half + voicing of quarter 2 + spare 0..1023
2          pitch/energy cell, second half + voicing of quarters 3, 4    0..1023
3          LSP stage 2                                                  0..511
4          LSP stage 3                                                  0..511
=========  ==========================================================  =====

A cell is ``16 * pitch + energy`` (16 x 16 cells: 0.11 octave x 3.4 dB). ``codes_to_frame`` turns
cells back into codec2's indices in closed loop, so ``frame_to_codes(codes_to_frame(c))`` gives ``c``
back except where the re-quantised state falls into a neighbouring cell (measured: 95.7 % of codes
equal on 20 utterances), and every other bit of a real frame comes back unchanged; codes a model
makes outside a field's range are cut to the field's bits (a 9-bit codebook reads ``code % 512``).
"""
from __future__ import annotations

import numpy as np

from valle.codec.codec2_codec import Codec2Codec
from valle.codec.codec2_woe import FIELD_BITS as WOE_BITS
from valle.codec.codec2_woe import cells_from_fields, fields_for

MODE = 1200
SAMPLES_PER_FRAME = 320
BYTES_PER_FRAME = 6
NUM_CODEBOOKS = 5

# (first bit, width) of each field in the 48-bit frame, MSB first.
VOICED = ((0, 1), (1, 1), (10, 1), (11, 1))
WOE = ((2, 8), (12, 8))
LSP = ((20, 9), (29, 9), (38, 9))
SPARE = (47, 1)

# codebook -> its fields, most significant first: (first bit, width)
LAYOUT = (
    (VOICED[0], LSP[0]),
    (SPARE, VOICED[1], WOE[0]),
    (VOICED[2], VOICED[3], WOE[1]),
    (LSP[1],),
    (LSP[2],),
)
_ORDER = np.array([start + i for fields in LAYOUT for start, width in fields for i in range(width)])
_WIDTHS = [sum(width for _, width in fields) for fields in LAYOUT]
assert sorted(_ORDER.tolist()) == list(range(8 * BYTES_PER_FRAME))


def _interleave(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The two half-frames' fields of each frame, in time order."""
    return np.stack([first, second], axis=1).reshape(-1)


def frame_to_codes(frames: bytes) -> np.ndarray:
    """codec2 1200 bytes (6 per frame) -> codes ``int64[frames, 5]`` (pitch/energy as absolute cells)."""
    bits = np.unpackbits(np.frombuffer(frames, dtype=np.uint8).reshape(-1, BYTES_PER_FRAME), axis=1)
    ordered = bits[:, _ORDER].astype(np.int64)
    codes, at = [], 0
    for width in _WIDTHS:
        weights = 1 << np.arange(width - 1, -1, -1)
        codes.append(ordered[:, at: at + width] @ weights)
        at += width
    codes = np.stack(codes, axis=1)
    low = (1 << WOE_BITS) - 1  # the pitch/energy field is the low 8 bits of codebooks 1 and 2
    cells = cells_from_fields(_interleave(codes[:, 1], codes[:, 2])).reshape(-1, 2)  # reads the low 8 bits
    codes[:, 1:3] = (codes[:, 1:3] & ~low) | cells
    return codes


def codes_to_frame(codes: np.ndarray) -> bytes:
    """Codes ``[frames, 5]`` (from ``frame_to_codes`` or a model) -> codec2 1200 bytes; the pitch/energy
    cells become codec2's predictive indices in closed loop (codec2_woe.fields_for)."""
    codes = np.array(codes, dtype=np.int64)
    low = (1 << WOE_BITS) - 1
    fields = fields_for(_interleave(codes[:, 1], codes[:, 2])).reshape(-1, 2)  # reads the low 8 bits
    codes[:, 1:3] = (codes[:, 1:3] & ~low) | fields
    ordered = np.empty((codes.shape[0], 8 * BYTES_PER_FRAME), dtype=np.uint8)
    at = 0
    for k, width in enumerate(_WIDTHS):
        shifts = np.arange(width - 1, -1, -1)
        ordered[:, at: at + width] = (codes[:, k: k + 1] >> shifts) & 1
        at += width
    bits = np.empty_like(ordered)
    bits[:, _ORDER] = ordered
    return np.packbits(bits, axis=1).tobytes()


class Codec2Mode1200(Codec2Codec):
    frame_rate = 25.0
    num_quantizers = NUM_CODEBOOKS
    codebook_size = 1024
    mode = MODE
    code_layout = "woe-cells"  # pitch/energy as absolute cells (codec2_woe.py), since 2026-11-28
    samples_per_frame = SAMPLES_PER_FRAME
    bytes_per_frame = BYTES_PER_FRAME
    frames_to_codes = staticmethod(frame_to_codes)
    codes_to_frames = staticmethod(codes_to_frame)

    @property
    def spec(self) -> str:
        return f"codec2:{MODE}"
