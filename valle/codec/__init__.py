"""Audio codecs: speech <-> discrete codes ``[frames, num_quantizers]``, one interface for all.

    from valle.codec import load_codec
    c = load_codec("codec2")              # or "encodec", "encodec:random", "encodec:/path/w.th"
    codes = c.encode(wav, sample_rate)    # LongTensor [frames, c.num_quantizers], 0..c.codebook_size-1
    wav = c.decode(codes)                 # float [samples] at c.sample_rate

The ``--codec`` value (its *spec*) names the backend and, for Encodec, its weights:

========================  ==========================================================================
``encodec``               Encodec 24 kHz, 6 kbps, 75 frames/s, 8 x 1024; the published weights (default)
``encodec:PATH``          the same model with a local state dict
``encodec:random``        seeded untrained weights: tests and plumbing runs only, NOT speech tokens
``codec2``                codec2 3200 (pycodec2): 8 kHz, 50 frames/s, 8 x 256; no weights needed
``codec2:1200``           codec2 1200: 8 kHz, 25 frames/s, 5 x 1024, codebook 0 = the LSP envelope
                          class (codec2_1200.py); what the offline demo learns to speak from
========================  ==========================================================================

Prepared data, model configs and checkpoints record ``codec.facts()``; ``check_same_codec``
refuses to mix codes of two codecs. See docs/codec.md.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

from valle.codec.base import Codec, CodecError, to_mono

CODECS = ("encodec", "codec2")
DEFAULT_CODEC = "encodec"


def split_spec(spec: Optional[str]) -> tuple:
    """``"encodec:random"`` -> ``("encodec", "random")``; ``None``/empty -> the default codec."""
    spec = (spec or DEFAULT_CODEC).strip()
    name, _, weights = spec.partition(":")
    name = name.lower()
    if name not in CODECS:
        raise CodecError(f"--codec {spec}: unknown codec {name!r}; choose one of: encodec (the default; "
                         f"encodec:PATH or encodec:random for other weights) or codec2 (no weights, 8 kHz)")
    if name == "codec2":
        if weights not in (None, "", "3200", "1200"):
            raise CodecError(f"--codec {spec}: codec2 takes a mode, not weights: codec2 (3200) or codec2:1200")
        return name, ("1200" if weights == "1200" else None)  # codec2:3200 is plain codec2
    return name, (weights or None)


def code_space(spec: Optional[str]) -> str:
    """What a model's vocabularies are tied to: the codec and, for codec2, its mode (weights do not
    matter): ``encodec``, ``codec2`` (3200) or ``codec2:1200``. Model configs record it."""
    name, weights = split_spec(spec)
    return f"codec2:{weights}" if name == "codec2" and weights else name


def _codec2_class(mode: Optional[str]):
    if mode == "1200":
        from valle.codec.codec2_1200 import Codec2Mode1200

        return Codec2Mode1200
    from valle.codec.codec2_codec import Codec2Codec

    return Codec2Codec


def load_codec(spec: Optional[str] = None, device: str = "cpu") -> Codec:
    """The codec named by ``spec`` (see the module docstring), ready to encode and decode."""
    name, weights = split_spec(spec)
    if name == "codec2":
        return _codec2_class(weights)()
    from valle.codec.encodec_codec import EncodecCodec

    return EncodecCodec(weights, device)


def facts_of(spec: Optional[str]) -> Dict[str, object]:
    """The facts of the codec ``spec`` names, without loading any weights."""
    name, weights = split_spec(spec)
    if name == "codec2":
        cls = _codec2_class(weights)
    else:
        from valle.codec.encodec_codec import EncodecCodec as cls
    spec = name if weights is None else f"{name}:{weights}"
    facts = {"codec": spec, "name": name, "sample_rate": cls.sample_rate, "frame_rate": cls.frame_rate,
             "num_quantizers": cls.num_quantizers, "codebook_size": cls.codebook_size,
             "random_weights": weights == "random"}
    if getattr(cls, "code_layout", ""):  # a codec2 mode whose codes changed meaning since its first layout
        facts["code_layout"] = cls.code_layout
    return facts


def codec_identity(spec: Optional[str]) -> str:
    """What codes made with ``spec`` depend on, for stage stamps, without loading any weights:
    the spec, plus the sha256 of the Encodec weights file (the hub checkpoint for ``encodec``) or
    the name of a codec2 mode's code layout when it changed since the first (codes made with an
    older layout are then re-made by stage 3, and voices of it are refused)."""
    name, weights = split_spec(spec)
    if name == "codec2":
        cls = _codec2_class(weights)
        return f"codec2:{cls.mode}" + (f"+{cls.code_layout}" if cls.code_layout else "")
    from pathlib import Path

    from valle.codec import encodec_model
    from valle.utils.digest import file_digest

    if weights == encodec_model.RANDOM:
        return "encodec:random"
    path = encodec_model.hub_checkpoint_path() if weights is None else Path(weights)
    if not path.is_file():
        return f"encodec:{weights or 'pretrained'}"  # loading reports the problem
    return f"encodec:sha256:{file_digest(path)}"


def same_codec(a: Mapping, b: Mapping) -> bool:
    """Do two facts records describe codes of the same codec (backend, code space and, where both
    records name one, code layout)?"""
    return _same_code_space(a, b) and not _layouts_differ(a, b)


def _same_code_space(a: Mapping, b: Mapping) -> bool:
    keys = ("name", "sample_rate", "frame_rate", "num_quantizers", "codebook_size")
    return all(a.get(k) == b.get(k) for k in keys)


def _layouts_differ(a: Mapping, b: Mapping) -> bool:
    # records from before layouts were recorded (2026-11-28) name none: nothing to compare them by
    return bool(a.get("code_layout")) and bool(b.get("code_layout")) and a["code_layout"] != b["code_layout"]


def check_same_codec(expected: Mapping, got: Mapping, expected_what: str, got_what: str) -> None:
    """Refuse codes of another codec, with one line naming both and the fix."""
    if same_codec(expected, got):
        return
    if _same_code_space(expected, got):  # so the layouts differ
        raise CodecError(
            f"codec layout mismatch: {expected_what} has {expected.get('codec')} codes in the layout "
            f"{expected['code_layout']!r} but {got_what} in {got['code_layout']!r}: the same numbers mean other "
            f"things (docs/codec.md); re-make the older codes with one valle (prepare.sh --stage 3) and "
            f"retrain a model trained on them"
        )
    raise CodecError(
        f"codec mismatch: {expected_what} uses {expected.get('name')} ({expected.get('sample_rate')} Hz, "
        f"{expected.get('num_quantizers')} x {expected.get('codebook_size')}) but {got_what} uses "
        f"{got.get('name')} ({got.get('sample_rate')} Hz, {got.get('num_quantizers')} x "
        f"{got.get('codebook_size')}); codes of one codec mean nothing to a model of the other: use "
        f"--codec {expected.get('codec') or expected.get('name')} for {got_what}, or a model trained "
        f"on {got.get('name')} codes"
    )


__all__ = ["CODECS", "DEFAULT_CODEC", "Codec", "CodecError", "check_same_codec", "code_space", "codec_identity", "facts_of", "load_codec",
           "same_codec", "split_spec", "to_mono"]
