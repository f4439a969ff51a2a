"""Languages the published VALL-E X frontend has no cleaner for: espeak-ng IPA on the 70 symbols.

The ``espeak`` tokenizer's output (phones, stress marks, ``_`` word boundaries, punctuation) is
joined to an IPA string and mapped character by character: a character of the table is kept; one
in ``data/vallex_ipa_fallback.json`` becomes its nearest table symbol(s) (``ʁ``->``ɹ``,
``ø``->``e``, ``ɡ``->``g``) or is dropped (length ``ː``, ties, most diacritics); any other character
is dropped. Every substitution (``"ʁ→ɹ"``) and drop is counted, so the stage report shows how
much of the language the table could not express.
"""
from __future__ import annotations

import functools
import json
from collections import Counter
from typing import Iterable, List, Tuple

from valle.text.english_normalize import DATA_DIR


@functools.lru_cache(maxsize=1)
def fallback_substitutions() -> dict:
    return json.loads((DATA_DIR / "vallex_ipa_fallback.json").read_text(encoding="utf-8"))["substitutions"]


def map_ipa(ipa: str, table: Iterable[str]) -> Tuple[str, Counter, Counter]:
    """``(mapped, substituted, dropped)`` for an IPA string; white space is kept as is."""
    table = set(table)
    subs = fallback_substitutions()
    out: List[str] = []
    substituted: Counter = Counter()
    dropped: Counter = Counter()
    i = 0
    while i < len(ipa):
        two = ipa[i:i + 2]
        if len(two) == 2 and two in subs:  # base + combining mark (ɑ̃ -> ɑ~)
            key = two
        else:
            key = ipa[i]
        i += len(key)
        if key in table or key.isspace():
            out.append(key)
        elif key in subs:
            repl = subs[key]
            if repl:
                out.append(repl)
                substituted[f"{key}→{repl}"] += 1
            else:
                dropped[key] += 1
        else:
            dropped[key] += 1
    return "".join(out), substituted, dropped


class EspeakFallback:
    """espeak-ng phones for ``lang`` -> a table-only IPA string per text."""

    def __init__(self, table: Iterable[str]):
        from valle.text.espeak import EspeakTokenizer

        self.table = set(table)
        self.espeak = EspeakTokenizer(None)

    def clean_many(self, texts: List[str], lang: str) -> List[Tuple[str, Counter, Counter]]:
        results = []
        for tt in self.espeak.batch(texts, [lang] * len(texts)):
            ipa = "".join(" " if t == "_" else t for t in tt.tokens)
            mapped, substituted, dropped = map_ipa(ipa, self.table)
            dropped.update(tt.dropped)
            results.append((mapped, substituted, dropped))
        return results
