"""Corpus preparation (stages 0 and 1): LibriTTS via lhotse's recipe and custom folders.

Every input audio file ends up either in a manifest or in ``rejects.tsv`` with a reason.
"""
from valle.data.corpora.custom import prepare_custom
from valle.data.corpora.layouts import LAYOUTS, detect_layout
from valle.data.corpora.libritts import LIBRITTS_PARTS, download_libritts_parts, prepare_libritts_parts
from valle.data.corpora.rejects import REJECT_REASONS, Reject, read_rejects

__all__ = [
    "LAYOUTS",
    "LIBRITTS_PARTS",
    "REJECT_REASONS",
    "Reject",
    "detect_layout",
    "download_libritts_parts",
    "prepare_custom",
    "prepare_libritts_parts",
    "read_rejects",
]
