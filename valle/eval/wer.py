"""Word and character error rates after one text normalisation applied to both sides.

``normalize_text`` spells numbers and abbreviations the way the English frontend does
(``1999`` -> ``nineteen ninety-nine``, ``Dr.`` -> ``doctor``), lower-cases, turns hyphens into
spaces and drops punctuation (apostrophes inside words stay: ``don't``; at a word's edge they go). Chinese and Japanese have
no word spaces, so they are scored per character (CER) with spaces and punctuation removed.

Corpus rates are summed edits over summed reference lengths (``corpus_wer``), not the mean of
per-utterance rates: a 2-word utterance with one error would otherwise weigh as much as a
40-word one.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Iterable, List, Sequence

# languages written without spaces between words: scored per character
CHARACTER_LANGUAGES = {"zh", "ja", "yue", "cmn"}

_apostrophes = re.compile(r"[\u2018\u2019\u02bc`´]")
_word_joiners = re.compile(r"[-\u2010-\u2015/_]")
_spaces = re.compile(r"\s+")


class TranscriptError(ValueError):
    """A reference transcript that leaves nothing to score after normalisation."""


def base_language(language: str) -> str:
    """``en-us`` / ``en_GB`` / ``EN`` -> ``en``."""
    return (language or "en").replace("_", "-").split("-")[0].lower()


def scores_characters(language: str) -> bool:
    return base_language(language) in CHARACTER_LANGUAGES


def _drop_punctuation(text: str) -> str:
    # keep letters, marks (accents, Devanagari vowel signs), digits, apostrophes and spaces
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == "'" or ch.isspace() or cat[0] in "LMN":
            out.append(ch)
        else:
            out.append(" ")
    return "".join(out)


def normalize_text(text: str, language: str = "en") -> str:
    """The one normalisation both reference and hypothesis go through before scoring."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _apostrophes.sub("'", text)
    if base_language(language) == "en":
        from valle.text.english_normalize import normalize_english

        text = normalize_english(text)
    text = _word_joiners.sub(" ", text.lower())
    text = _drop_punctuation(text)
    # apostrophes at a word's edge quote or elide ('hello', 'twas, dogs'): only inner ones stay
    words = [w.strip("'") for w in text.split()]
    text = " ".join(w for w in words if w)
    if scores_characters(language):
        text = _spaces.sub("", text)
    return text


def units(text: str, language: str = "en") -> List[str]:
    """Normalised words, or characters for the languages in ``CHARACTER_LANGUAGES``."""
    norm = normalize_text(text, language)
    return list(norm) if scores_characters(language) else norm.split()


@dataclass
class ErrorCounts:
    """Edit operations of one alignment (or a sum of them) against ``reference_length`` units."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    reference_length: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        return self.errors / self.reference_length if self.reference_length else float("nan")

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        return ErrorCounts(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    def to_dict(self) -> dict:
        return {**asdict(self), "errors": self.errors, "rate": self.rate}


def count_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> ErrorCounts:
    """Levenshtein alignment (jiwer) of two unit sequences."""
    import jiwer

    if not reference:
        raise TranscriptError("the reference has no words to score against")
    out = jiwer.process_words([" ".join(reference)], [" ".join(hypothesis)]) if hypothesis else None
    if out is None:  # jiwer refuses an empty hypothesis string: every reference unit is deleted
        return ErrorCounts(0, len(reference), 0, len(reference))
    return ErrorCounts(out.substitutions, out.deletions, out.insertions, len(reference))


def _char_tokens(seq: List[str]) -> List[str]:
    # jiwer splits on spaces: characters become space-separated "words"
    return [c for c in seq if not c.isspace()]


def utterance_errors(reference: str, hypothesis: str, language: str = "en", unit: str = "auto") -> ErrorCounts:
    """Errors of one utterance; ``unit`` is ``word``, ``char`` or ``auto`` (by language)."""
    if unit == "auto":
        unit = "char" if scores_characters(language) else "word"
    ref, hyp = normalize_text(reference, language), normalize_text(hypothesis, language)
    if not ref:
        raise TranscriptError(f"the reference text {reference!r} is empty after normalisation")
    if unit == "char":
        return count_errors(_char_tokens(list(ref.replace(" ", ""))), _char_tokens(list(hyp.replace(" ", ""))))
    if unit != "word":
        raise ValueError(f"unit must be word, char or auto, got {unit!r}")
    return count_errors(ref.split(), hyp.split())


def sum_errors(counts: Iterable[ErrorCounts]) -> ErrorCounts:
    total = ErrorCounts()
    for c in counts:
        total = total + c
    return total


def corpus_wer(references: Sequence[str], hypotheses: Sequence[str], language: str = "en", unit: str = "auto") -> float:
    """Summed edits / summed reference length over all utterance pairs (not a mean of rates)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    return sum_errors(utterance_errors(r, h, language, unit) for r, h in zip(references, hypotheses)).rate


def corpus_cer(references: Sequence[str], hypotheses: Sequence[str], language: str = "en") -> float:
    return corpus_wer(references, hypotheses, language, unit="char")
