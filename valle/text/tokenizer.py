"""Text tokenizers behind one interface: ``get_text_tokenizer(name, lang)``.

``tok(text, lang=None) -> TokenizedText`` and ``tok.batch(texts, langs=None)``; ``lang`` overrides
the tokenizer's default language per call (per-utterance languages in stage 2).

| name | languages | tokens |
| --- | --- | --- |
| ``espeak`` | any espeak-ng voice; ``zh*`` -> ``pinyin``, ``ja*`` -> ``openjtalk`` | espeak phones, ``_`` word boundary, stress and punctuation as tokens |
| ``pinyin`` | zh | initials and tone-numbered finals |
| ``openjtalk`` | ja | OpenJTalk phonemes |
| ``vallex`` | en, zh, ja (+ espeak fallback) | one published-table symbol per character, with a language per token |

espeak-ng 1.51 reads Hanzi/Kanji as "Chinese letter", so ``espeak`` hands zh/ja to the dedicated
tokenizers instead of producing garbage.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence

from valle.text.languages import normalize_language
from valle.text.symbol_table import SymbolTable

TOKENIZERS = ("espeak", "pinyin", "openjtalk", "vallex")
WORD_BOUNDARY = "_"


@dataclass
class TokenizedText:
    """One text's tokens.

    ``langs``: one language per token (``vallex`` only). ``lang``: the language used (normalised).
    ``tokenizer``: the tokenizer that really ran (``espeak`` may route to ``pinyin``).
    ``substituted`` / ``dropped``: characters the tokenizer could not represent, with counts
    (``"ʁ→ɹ"`` style keys for substitutions), for the stage report.
    """

    tokens: List[str]
    langs: Optional[List[str]] = None
    lang: Optional[str] = None
    tokenizer: str = ""
    substituted: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)


class TextTokenizer:
    """Base class: default language, per-call override, batching by language."""

    name = "base"

    def __init__(self, lang: Optional[str] = None):
        self.lang = normalize_language(lang) if lang else None

    def _resolve(self, lang: Optional[str]) -> str:
        lang = lang or self.lang
        if not lang:
            raise ValueError(f"{self.name} tokenizer: no language given; pass lang= (e.g. en-us, zh, ja)")
        return normalize_language(lang)

    def __call__(self, text: str, lang: Optional[str] = None) -> TokenizedText:
        return self.batch([text], [lang])[0]

    def batch(self, texts: Sequence[str], langs: Optional[Sequence[Optional[str]]] = None) -> List[TokenizedText]:
        """Tokenize many texts; texts of one language go to :meth:`_batch_one_language` together."""
        texts = list(texts)
        if langs is None:
            langs = [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        resolved = [self._resolve(lang) for lang in langs]
        groups: Dict[str, List[int]] = {}
        for i, lang in enumerate(resolved):
            groups.setdefault(lang, []).append(i)
        out: List[Optional[TokenizedText]] = [None] * len(texts)
        for lang, idx in groups.items():
            for i, tt in zip(idx, self._batch_one_language([texts[i] for i in idx], lang)):
                if tt.lang is None:
                    tt.lang = lang
                if not tt.tokenizer:
                    tt.tokenizer = self.name
                out[i] = tt
        return out  # type: ignore[return-value]

    def _batch_one_language(self, texts: List[str], lang: str) -> List[TokenizedText]:
        raise NotImplementedError

    def symbol_table(self, tokens: Iterable[str]) -> SymbolTable:
        """The table for a corpus whose tokens are ``tokens`` (vallex: the fixed published table)."""
        return SymbolTable.for_corpus(tokens)


class OneLanguageTokenizer(TextTokenizer):
    """A tokenizer of one language (``language``, called ``language_name`` in messages):
    any other language is refused, each text is read by :meth:`tokenize`."""

    language = ""
    language_name = ""

    def __init__(self, lang: str = ""):
        super().__init__(lang or self.language)

    def _batch_one_language(self, texts: List[str], lang: str) -> List[TokenizedText]:
        if lang != self.language:
            raise ValueError(f"the {self.name} tokenizer reads {self.language_name} ({self.language}), not {lang!r}")
        return [self.tokenize(t) for t in texts]

    def tokenize(self, text: str) -> TokenizedText:
        raise NotImplementedError


def get_text_tokenizer(name: str = "espeak", lang: Optional[str] = None) -> TextTokenizer:
    """Build a tokenizer; ``espeak`` with ``lang`` zh*/ja* returns the pinyin/openjtalk tokenizer.

    ``lang`` is the default language of calls that give none: ``espeak`` falls back to ``en-us``,
    ``pinyin`` to ``zh``, ``openjtalk`` to ``ja``; ``vallex`` then needs language tags in the text.
    """
    name = (name or "espeak").lower()
    if name not in TOKENIZERS:
        raise ValueError(f"unknown text tokenizer {name!r}; choose one of {', '.join(TOKENIZERS)} (--text-tokenizer)")
    if name == "espeak" and lang:
        base = normalize_language(lang)
        if base == "zh":
            name = "pinyin"
        elif base == "ja":
            name = "openjtalk"
    if name == "espeak":
        from valle.text.espeak import EspeakTokenizer

        return EspeakTokenizer(lang or "en-us")
    if name == "pinyin":
        from valle.text.pinyin import PinyinTokenizer

        return PinyinTokenizer(lang or "zh")
    if name == "openjtalk":
        from valle.text.openjtalk import OpenJTalkTokenizer

        return OpenJTalkTokenizer(lang or "ja")
    from valle.text.vallex.frontend import VallexTokenizer

    return VallexTokenizer(lang)
