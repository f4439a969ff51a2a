"""VALL-E X English cleaning: text -> IPA-like string (the published ``english_to_ipa2``).

unidecode + lower case, abbreviations and numbers spoken (:mod:`valle.text.english_normalize`),
CMU-dictionary IPA from eng_to_ipa (a word it does not know keeps its spelling plus ``*``), white
space collapsed, dark ``l`` marked ``ɫ`` (an ``l`` followed only by consonants up to the word end),
then the ``ipa2`` substitutions (``r``->``ɹ``, ``ʤ``->``dʒ``, ``ʧ``->``tʃ``) and ``...``->``…``.

eng_to_ipa opens its SQLite dictionary on every call (~30 ms per sentence). Its transcription is
word-local (each white-space word is stripped of punctuation, looked up, and re-punctuated on its
own), so :class:`EnglishIPA` looks up each distinct word once, many words per query, and caches it:
the output is identical to ``eng_to_ipa.convert(text)``.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, List

from unidecode import unidecode

from valle.text.english_normalize import english_rules, expand_abbreviations, normalize_numbers

_DARK_L_RE = re.compile(r"l([^aeiouæɑɔəɛɪʊ ]*(?: |$))")
_SPACE_RE = re.compile(r"\s+")
_LOOKUP_CHUNK = 400  # SQLite limits the number of '?' parameters per query


class EnglishIPA:
    """Word-cached ``eng_to_ipa.convert`` (same output, one dictionary query per batch of new words)."""

    def __init__(self):
        try:
            import eng_to_ipa  # noqa: F401
        except ImportError as e:  # pragma: no cover - install problem
            raise RuntimeError("eng_to_ipa is not installed: run `make setup` (pip install -e .)") from e
        self._cache: Dict[str, str] = {}

    def _lookup(self, words: List[str]) -> None:
        from eng_to_ipa import transcribe

        for i in range(0, len(words), _LOOKUP_CHUNK):
            chunk = words[i:i + _LOOKUP_CHUNK]
            # ipa_list -> one list of candidate transcriptions per word; convert() keeps the last.
            for word, candidates in zip(chunk, transcribe.ipa_list(chunk, keep_punct=True, stress_marks="both")):
                self._cache[word] = candidates[-1]

    def convert_many(self, texts: Iterable[str]) -> List[str]:
        split = [t.split() for t in texts]
        new = sorted({w for words in split for w in words if w not in self._cache})
        if new:
            self._lookup(new)
        return [" ".join(self._cache[w] for w in words) for words in split]


def _ipa2_rules():
    return [(re.compile(a), b) for a, b in english_rules()["ipa2"]]


class EnglishCleaner:
    def __init__(self):
        self.ipa = EnglishIPA()
        self.rules = _ipa2_rules()

    @staticmethod
    def normalize(text: str) -> str:
        return normalize_numbers(expand_abbreviations(unidecode(text).lower()))

    def finish(self, phonemes: str) -> str:
        text = _SPACE_RE.sub(" ", phonemes)
        text = _DARK_L_RE.sub(lambda m: "ɫ" + m.group(1), text)
        for regex, repl in self.rules:
            text = regex.sub(repl, text)
        return text.replace("...", "…")

    def clean_many(self, texts: List[str]) -> List[str]:
        phonemes = self.ipa.convert_many([self.normalize(t) for t in texts])
        return [self.finish(p) for p in phonemes]
