"""Split long input text into sentence-sized chunks that the AR model can handle.

Why: VALL-E models are trained on utterances of a few to ~20 seconds; one very long target
text makes the AR wander (or hit the length guard) and its attention cost grows with the
square of the sequence.  Synthesis therefore runs once per chunk with the same prompt, and
the generated codes are joined before decoding.  Short neighbouring sentences are merged up to
``max_chars`` so that a two-word sentence does not become a chunk of its own.

Inline language tags (``[EN]...[EN]``) are kept intact: a split never falls inside a tag pair,
and each chunk keeps tags balanced, so code-switched text stays code-switched per chunk.

Language-aware parts: Chinese and Japanese sentences end at full-width stops (。！？；．) with no
space after them, and CJK pieces are joined without the space Latin text needs. With
``by_speech_length`` (long-text synthesis, ``valle.infer.long_text``) a CJK character counts as
``CJK_WEIGHT`` Latin characters (one syllable is said in about the time of three letters), and a
sentence longer than ``max_chars`` is cut at clause marks (, ; : 、，：) so that no chunk has to
outlast the model's longest training utterance.
"""
from __future__ import annotations

import re
from typing import List

# Sentence ends: Latin punctuation followed by whitespace, or CJK full stops (no space needed).
_SENTENCE_END = re.compile(r"(?<=[.!?;…])\s+|(?<=[。！？；．｡])")
_CLAUSE_END = re.compile(r"(?<=[,:;])\s+|(?<=[，、：；])")
_TAG = re.compile(r"\[([A-Z]{2})\]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
CJK_WEIGHT = 3


def speech_length(piece: str) -> int:
    """Characters of ``piece`` without tags, a CJK character counting ``CJK_WEIGHT``."""
    bare = _TAG.sub("", piece)
    return len(bare) + (CJK_WEIGHT - 1) * len(_CJK.findall(bare))


def _joiner(left: str, right: str) -> str:
    """No space between tagged segments or between CJK text; one space otherwise."""
    a, b = _TAG.sub("", left)[-1:], _TAG.sub("", right)[:1]
    if (left.endswith("]") and right.startswith("[")) or (_CJK.match(a or " ") and _CJK.match(b or " ")):
        return ""
    if a in "。！？；，、：．" and a:
        return ""
    return " "


def _split_clauses(piece: str, max_chars: int) -> List[str]:
    """``piece`` (one sentence, maybe ``[XX]``-wrapped) cut at clause marks into parts of at most
    ``max_chars`` speech length where the clauses allow it."""
    m = re.fullmatch(r"\[([A-Z]{2})\](.*)\[\1\]", piece, flags=re.S)
    inner, tag = (m.group(2), m.group(1)) if m else (piece, None)
    parts: List[str] = []
    for clause in (c.strip() for c in _CLAUSE_END.split(inner) if c and c.strip()):
        if parts and speech_length(parts[-1]) + 1 + speech_length(clause) <= max_chars:
            parts[-1] = parts[-1] + _joiner(parts[-1], clause) + clause
        else:
            parts.append(clause)
    return [f"[{tag}]{p}[{tag}]" for p in parts] if tag else parts


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


def _ends_sentence(piece: str, clauses: bool = False) -> bool:
    bare = _TAG.sub("", piece).rstrip()
    return bool(bare) and bare[-1] in ".!?;…。！？；．｡" + (",:，、：" if clauses else "")


def split_sentences(text: str, max_chars: int = 200, by_speech_length: bool = False) -> List[str]:
    """Return chunks of ``text`` of at most ``max_chars`` characters where possible.

    A single sentence longer than ``max_chars`` is kept whole (splitting mid-sentence hurts
    prosody more than a long chunk), unless ``by_speech_length``: then lengths are speech lengths
    (``speech_length``) and such a sentence is cut at its clause marks.  ``max_chars <= 0``
    disables splitting.
    """
    text = " ".join(text.split())
    if not text:
        return []
    if max_chars <= 0:
        return [text]
    pieces = _split_tagged(text) if _TAG.search(text) else _split_untagged(text)
    size = speech_length if by_speech_length else len
    if by_speech_length:
        pieces = [part for p in pieces for part in (_split_clauses(p, max_chars) if size(p) > max_chars else [p])]
    chunks: List[str] = []
    for piece in pieces:
        joiner = _joiner(chunks[-1], piece) if chunks else " "
        if chunks and size(chunks[-1]) + len(joiner) + size(piece) <= max_chars:
            chunks[-1] = chunks[-1] + joiner + piece
        elif chunks and not _ends_sentence(chunks[-1], by_speech_length):
            # A tag boundary inside one sentence: keep the sentence together.
            chunks[-1] = chunks[-1] + joiner + piece
        else:
            chunks.append(piece)
    return chunks
