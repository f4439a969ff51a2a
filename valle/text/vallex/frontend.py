"""``vallex`` tokenizer: the published VALL-E X frontend, one id of the 70-symbol table per character.

Input text is split into language segments (``[EN]..[EN][ZH]..[ZH]`` tags, or the whole text in
the tokenizer's / the call's language). Each segment is cleaned by its language's rules
(:mod:`.english`, :mod:`.mandarin`, :mod:`.japanese`; others via :mod:`.fallback`), ends with a
punctuation mark (``.`` is appended unless it already ends in one of ``. , ! ? - … ~``), spaces
become ``_``, and every character is one token; a character outside the table becomes ``[UNK]``
(id 0), as in the published model, and is counted. Each token carries its segment's VALL-E X
language (``en``/``zh``/``ja``; fallback languages use ``en``, id 0, the model's only choice).
No BOS/EOS: the published model expects none.

Deviations from the published code, on purpose: text outside any tag is read in the default
language (the published code silently dropped it), and line breaks count as spaces (it deleted
them, gluing words together).
"""
from __future__ import annotations

import functools
import json
import re
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from valle.text.english_normalize import DATA_DIR
from valle.text.languages import has_language_tags, normalize_language, split_language_tags, vallex_language
from valle.text.symbol_table import SymbolTable
from valle.text.tokenizer import TextTokenizer, TokenizedText

UNK = "[UNK]"
SEGMENT_END_MARKS = ".,!?-…~"
_TRAILING_SPACE_RE = re.compile(r"\s+$")


@functools.lru_cache(maxsize=1)
def vallex_symbols() -> Tuple[str, ...]:
    return tuple(json.loads((DATA_DIR / "vallex_symbols.json").read_text(encoding="utf-8"))["symbols"])


@functools.lru_cache(maxsize=1)
def vallex_symbol_table() -> SymbolTable:
    """The published 70-symbol table (``[UNK]`` 0 ... ``↓`` 69, pad id ``[PAD]`` 3)."""
    return SymbolTable(vallex_symbols())


def finish_segment(phonemes: str) -> str:
    """A cleaned segment ends in a punctuation mark (the model saw every segment end in one)."""
    phonemes = _TRAILING_SPACE_RE.sub("", phonemes + " ")
    if phonemes and phonemes[-1] not in SEGMENT_END_MARKS:
        phonemes += "."
    return phonemes


class VallexTokenizer(TextTokenizer):
    name = "vallex"

    def __init__(self, lang: Optional[str] = None):
        super().__init__(lang)
        self.table = frozenset(vallex_symbols())
        self._english = None
        self._fallback = None

    def symbol_table(self, tokens=None) -> SymbolTable:
        return vallex_symbol_table()

    # per-language cleaners ---------------------------------------------------------------------
    def _clean(self, texts: List[str], lang: str) -> List[Tuple[str, Counter, Counter]]:
        base = vallex_language(lang)
        if base == "en":
            if self._english is None:
                from valle.text.vallex.english import EnglishCleaner

                self._english = EnglishCleaner()
            return [(p, Counter(), Counter()) for p in self._english.clean_many(texts)]
        if base == "zh":
            from valle.text.vallex.mandarin import clean_many

            return [(p, Counter(), Counter()) for p in clean_many(texts)]
        if base == "ja":
            from valle.text.vallex.japanese import clean_many

            return [(p, Counter(), Counter()) for p in clean_many(texts)]
        if self._fallback is None:
            from valle.text.vallex.fallback import EspeakFallback

            self._fallback = EspeakFallback(self.table)
        return self._fallback.clean_many(texts, lang)

    # batching ----------------------------------------------------------------------------------
    def batch(self, texts: Sequence[str], langs: Optional[Sequence[Optional[str]]] = None) -> List[TokenizedText]:
        texts = [(t or "").replace("\r", " ").replace("\n", " ") for t in texts]
        if langs is None:
            langs = [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        segmented: List[List[Tuple[str, str]]] = []
        by_lang: Dict[str, List[Tuple[int, int]]] = {}
        for i, (text, lang) in enumerate(zip(texts, langs)):
            default = lang or self.lang
            segs = split_language_tags(text, default_lang=default)
            segmented.append(segs)
            for j, (seg_lang, _) in enumerate(segs):
                by_lang.setdefault(seg_lang, []).append((i, j))
        cleaned: Dict[Tuple[int, int], Tuple[str, Counter, Counter]] = {}
        for seg_lang, keys in by_lang.items():
            for key, res in zip(keys, self._clean([segmented[i][j][1] for i, j in keys], seg_lang)):
                cleaned[key] = res
        out = []
        for i, segs in enumerate(segmented):
            tokens: List[str] = []
            token_langs: List[str] = []
            substituted: Counter = Counter()
            dropped: Counter = Counter()
            for j, (seg_lang, _) in enumerate(segs):
                phonemes, subs, drops = cleaned[(i, j)]
                substituted.update(subs)
                dropped.update(drops)
                model_lang = vallex_language(seg_lang) or "en"
                for ch in finish_segment(phonemes).replace(" ", "_"):
                    if ch in self.table:
                        tokens.append(ch)
                    else:
                        tokens.append(UNK)
                        substituted[f"{ch}→{UNK}"] += 1
                    token_langs.append(model_lang)
            # the language used: the text's own (first) tag if it has tags, else the given one
            default = langs[i] or self.lang
            if segs and (has_language_tags(texts[i]) or not default):
                used = segs[0][0]
            else:
                used = normalize_language(default) if default else None
            out.append(TokenizedText(tokens=tokens, langs=token_langs, lang=used, tokenizer=self.name,
                                     substituted=substituted, dropped=dropped))
        return out

    def encode(self, text: str, lang: Optional[str] = None) -> Tuple[List[int], List[str]]:
        """``(ids, langs)`` as the published model's tokenizer returns them."""
        tt = self(text, lang)
        return vallex_symbol_table().encode(tt.tokens), tt.langs
