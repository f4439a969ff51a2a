"""Text that a frontend would silently read as the wrong language: script/language mismatches.

The vallex and espeak frontends never fail on text in another script: Chinese characters in an
English segment go through unidecode and come out as English-sounding pinyin letters, English
words in a Chinese segment are spelled as letter names, kana in a non-Japanese segment become
romaji. None of it is a substitution or a drop, so it must be looked for: per utterance, each
language segment (``[EN]…[EN]`` tags, or the whole text in its language) is checked for letters
of a script its language does not write. Stage 2 counts them in its report with examples and
warns; the fix is a language tag around the other-language words (``[ZH]中文[ZH]``).
"""
from __future__ import annotations

import re
from typing import List, Optional

from valle.text.languages import base_language, split_language_tags

SCRIPTS = {
    "han": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"),
    "kana": re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]"),
    "latin": re.compile(r"[A-Za-z]{2,}"),  # a word, not a unit letter or a roman numeral I
}
# Scripts a language's frontend reads natively; anything else in its segment is a mismatch.
NATIVE = {"zh": {"han"}, "ja": {"han", "kana"}}
DEFAULT_NATIVE = {"latin"}


def script_mismatches(text: str, lang: Optional[str]) -> List[str]:
    """``["han in en", ...]``: each script found in a segment whose language does not write it."""
    try:
        segments = split_language_tags(text or "", default_lang=lang or "en")
    except ValueError:  # unbalanced tags are stage 2's own error
        return []
    found = []
    for seg_lang, seg in segments:
        base = base_language(seg_lang)
        native = NATIVE.get(base, DEFAULT_NATIVE)
        for script, pattern in SCRIPTS.items():
            if script not in native and pattern.search(seg):
                kind = f"{script} in {base}"
                if kind not in found:
                    found.append(kind)
    return found
