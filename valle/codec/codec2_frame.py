"""The 64 bits of a codec2 3200 frame, re-packed coarse-to-fine into 8 codebooks of 256.

codec2 3200 (codec2.c ``codec2_encode_3200``) writes, MSB-first across the 8 bytes of a 20 ms
frame: 2 voicing bits (one per 10 ms half), the 7-bit pitch index Wo, the 5-bit energy index and
ten 5-bit LSP-difference indices (codebook.c ``lsp_cbd``: 10 x 32 entries). ``pack`` Gray-codes
every field wider than one bit (``field ^ (field >> 1)``) before writing it.

Split plainly, byte k would be codebook k, and an error in any byte hits the middle of some
field (measured: 10% of bytes 1-7 replaced at random made 44% word errors). Instead each field is
Gray-decoded to its natural index and all 64 bits are sorted by (bit plane from the top, field
order): codebook 0 holds the voicing and the top bit of pitch, energy and LSPs 1-4, codebook 1
the top bits of LSPs 5-10 and the second bits of pitch and energy, and so on down to the last
codebook with the lowest pitch bits. An error in codebook k then moves each field it touches by
at most the weight of that bit plane, as a wrong code of a later residual codebook does in
Encodec (measured: codebooks 6-7 entirely random cost 6.7% WER against 5.0% clean).

``repack`` and ``unpack`` are inverse bijections between codec2 bytes and codes.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

BYTES_PER_FRAME = 8
# (name, width in bits) in codec2's order within the frame.
FIELDS: List[Tuple[str, int]] = ([("voiced0", 1), ("voiced1", 1), ("Wo", 7), ("energy", 5)]
                                 + [(f"lspd{i}", 5) for i in range(1, 11)])
assert sum(width for _, width in FIELDS) == 8 * BYTES_PER_FRAME


def _field_offsets() -> List[int]:
    offsets, at = [], 0
    for _, width in FIELDS:
        offsets.append(at)
        at += width
    return offsets


def _bit_order() -> np.ndarray:
    """For each position of the re-packed 64 bits, the position in codec2's frame (MSB-first)."""
    bits = []
    for field, ((_, width), offset) in enumerate(zip(FIELDS, _field_offsets())):
        for plane in range(width):  # plane 0 = the field's most significant bit
            bits.append((plane, field, offset + plane))
    return np.array([position for _, _, position in sorted(bits)], dtype=np.int64)


ORDER = _bit_order()  # repacked bit j = natural frame bit ORDER[j]
_MULTI_BIT = [(offset, width) for (_, width), offset in zip(FIELDS, _field_offsets()) if width > 1]


def _gray_to_natural(bits: np.ndarray) -> np.ndarray:
    """Gray-decode every multi-bit field of ``bits`` ``[frames, 64]`` (0/1): b_i = XOR of g_0..g_i, MSB first."""
    out = bits.copy()
    for offset, width in _MULTI_BIT:
        out[:, offset:offset + width] = np.bitwise_xor.accumulate(bits[:, offset:offset + width], axis=1)
    return out


def _natural_to_gray(bits: np.ndarray) -> np.ndarray:
    """Gray-code every multi-bit field: g_0 = b_0, g_i = b_i XOR b_(i-1), MSB first."""
    out = bits.copy()
    for offset, width in _MULTI_BIT:
        field = bits[:, offset:offset + width]
        out[:, offset + 1:offset + width] = field[:, 1:] ^ field[:, :-1]
    return out


def repack(frames: bytes) -> np.ndarray:
    """codec2 3200 bytes (8 per frame) -> codes ``int64[frames, 8]`` in 0..255, coarse to fine."""
    if len(frames) % BYTES_PER_FRAME:
        raise ValueError(f"codec2 3200 frames are {BYTES_PER_FRAME} bytes, got {len(frames)} bytes")
    raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, BYTES_PER_FRAME)
    bits = _gray_to_natural(np.unpackbits(raw, axis=1))  # [frames, 64], MSB first
    return np.packbits(bits[:, ORDER], axis=1).astype(np.int64)


def unpack(codes: np.ndarray) -> bytes:
    """Codes ``[frames, 8]`` in 0..255 (from ``repack`` or a model) -> codec2 3200 bytes."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != BYTES_PER_FRAME:
        raise ValueError(f"codec2 codes must be [frames, {BYTES_PER_FRAME}], got {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() > 255):
        raise ValueError(f"codec2 codes must be in 0..255, got {codes.min()}..{codes.max()}")
    repacked = np.unpackbits(codes.astype(np.uint8), axis=1)
    bits = np.empty_like(repacked)
    bits[:, ORDER] = repacked
    return np.packbits(_natural_to_gray(bits), axis=1).tobytes()


def frame_fields(frames: bytes) -> np.ndarray:
    """The natural (Gray-decoded) index of every field of every frame: ``int64[frames, len(FIELDS)]``."""
    raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, BYTES_PER_FRAME)
    bits = _gray_to_natural(np.unpackbits(raw, axis=1)).astype(np.int64)
    columns = []
    for (_, width), offset in zip(FIELDS, _field_offsets()):
        weights = 1 << np.arange(width - 1, -1, -1)
        columns.append(bits[:, offset:offset + width] @ weights)
    return np.stack(columns, axis=1)
