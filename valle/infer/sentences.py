"""Split long input text into sentence-sized chunks that the AR model can handle.

Why: VALL-E models are trained on utterances of a few to ~20 seconds; one very long target
text makes the AR wander (or hit the length guard) and its attention cost grows with the
square of the sequence.  Synthesis therefore runs once per chunk with the same prompt, and
the generated codes are joined before decoding.  Short neighbouring sentences are merged up to
``max_chars`` so that a two-word sentence does not become a chunk of its own.

Inline language tags (``[EN]...[EN]``) are kept intact: a split never falls inside a tag pair,
and each chunk keeps tags balanced, so code-switched text stays code-switched per chunk.
"""
from __future__ import annotations

import re
from typing import List

# Sentence ends: Latin punctuation followed by whitespace, or CJK full stops (no space needed).
_SENTENCE_END = re.compile(r"(?<=[.!?;…])\s+|(?<=[。！？；])")
_TAG = re.compile(r"\[([A-Z]{2})\]")


def _split_untagged(text: str) -> List[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _split_tagged(text: str) -> List[str]:
    """Split text with ``[XX]...[XX]`` segments; every piece is re-wrapped in its tag."""
    pieces: List[str] = []
    pos = 0
    for m in re.finditer(r"\[([A-Z]{2})\](.*?)\[\1\]", text, flags=re.S):
        before = text[pos:m.start()].strip()
        if before:
            pieces.extend(_split_untagged(before))
        tag = m.group(1)
        for s in _split_untagged(m.group(2)):
            pieces.append(f"[{tag}]{s}[{tag}]")
        pos = m.end()
    rest = text[pos:].strip()
    if rest:
        pieces.extend(_split_untagged(rest))
    return pieces


def _ends_sentence(piece: str) -> bool:
    bare = _TAG.sub("", piece).rstrip()
    return bool(bare) and bare[-1] in ".!?;…。！？；"


def split_sentences(text: str, max_chars: int = 200) -> List[str]:
    """Return chunks of ``text`` of at most ``max_chars`` characters where possible.

    A single sentence longer than ``max_chars`` is kept whole (splitting mid-sentence hurts
    prosody more than a long chunk).  ``max_chars <= 0`` disables splitting.
    """
    text = " ".join(text.split())
    if not text:
        return []
    if max_chars <= 0:
        return [text]
    pieces = _split_tagged(text) if _TAG.search(text) else _split_untagged(text)
    chunks: List[str] = []
    for piece in pieces:
        # Tagged segments are joined without a space (the tags delimit them already).
        joiner = "" if chunks and chunks[-1].endswith("]") and piece.startswith("[") else " "
        if chunks and len(chunks[-1]) + len(joiner) + len(piece) <= max_chars:
            chunks[-1] = chunks[-1] + joiner + piece
        elif chunks and not _ends_sentence(chunks[-1]):
            # A tag boundary inside one sentence: keep the sentence together.
            chunks[-1] = chunks[-1] + joiner + piece
        else:
            chunks.append(piece)
    return chunks
