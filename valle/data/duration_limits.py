"""The utterance length limits of prepare.sh stages 1 and 4: ``--filter-min-duration`` and
``--filter-max-duration`` (seconds), the same names and meaning as valle.bin.train's cut filter.

They were ``--min-duration``/``--max-duration`` until the rename that left ``--max-duration`` one
meaning, seconds of audio per training batch (run.sh, valle.bin.train); the old prepare spellings
fail with a line naming the new ones (for one release).
"""
from __future__ import annotations

from valle.utils.cli import refuse_renamed_options

MIN_OPTION = "--filter-min-duration"
MAX_OPTION = "--filter-max-duration"
RENAMED = {
    "--min-duration": f"use {MIN_OPTION} (shortest utterance kept, seconds)",
    "--max-duration": f"use {MAX_OPTION} (longest utterance kept, seconds); --max-duration now means only "
                      f"seconds of audio per training batch (run.sh, valle.bin.train)",
}


def add_duration_limit_options(parser, verb: str) -> None:
    """The two limits on ``parser`` (stored as ``min_duration``/``max_duration``) and the refused old
    spellings; ``verb`` says what happens to an utterance outside them ("reject", "drop (and list)")."""
    parser.add_argument(MIN_OPTION, dest="min_duration", type=float, metavar="SECONDS", default=0.5,
                        help=f"{verb} utterances shorter than this (s)")
    parser.add_argument(MAX_OPTION, dest="max_duration", type=float, metavar="SECONDS", default=20.0,
                        help=f"{verb} utterances longer than this (s)")
    refuse_renamed_options(parser, RENAMED)
