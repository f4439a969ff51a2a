"""The one command-line name for the codec choice: ``--codec SPEC`` (see valle/codec/__init__).

Earlier releases had three weights options (``--codec-weights`` for stage 3 and for synthesis,
``--valid-codec-weights`` for the TensorBoard sample); they are refused with a line naming
``--codec``, so an old command fails loudly instead of silently using another codec.
"""
from __future__ import annotations

from typing import Optional

from valle.utils.cli import refuse_old_options

CODEC_HELP = ("codec: encodec (published weights: torch hub cache or download), encodec:PATH (a local "
              "state dict), encodec:random (seeded untrained weights, NOT speech; tests/plumbing), or "
              "codec2 (codec2 3200, no weights, robotic 8 kHz speech)")
RENAMED = ("--codec-weights", "--valid-codec-weights")
REPLACED_BY_CODEC = ("was replaced by one codec choice, --codec SPEC, made at prepare.sh --codec (encodec, "
                     "encodec:PATH for a weights file, encodec:random, or codec2) and recorded with the data; "
                     "training and synthesis use the recorded codec")


def refuse_renamed_codec_options(parser) -> None:
    """The old codec-weights spellings on ``parser``: each fails with a line naming ``--codec``."""
    refuse_old_options(parser, {old: REPLACED_BY_CODEC for old in RENAMED})


def add_codec_option(parser, default: Optional[str] = None, help_suffix: str = "") -> None:
    """``--codec SPEC`` on ``parser`` (or an argument group), and the refused old spellings."""
    parser.add_argument("--codec", default=default, help=CODEC_HELP + help_suffix)
    refuse_renamed_codec_options(parser)
