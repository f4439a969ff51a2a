"""``pinyin`` tokenizer (zh): jieba words -> pypinyin initials and tone-numbered finals.

Tokens: an initial (``zh``, ``x``, ``y``, ``w`` — pypinyin non-strict, so ``y``/``w`` count as
initials) and a final with its tone digit (``ao3``, ``i1``, neutral tone ``5``); ``_`` between
jieba words; Chinese punctuation as its ASCII mark (``，`` -> ``,``). Arabic numbers are read as
Chinese numerals first (cn2an: ``3`` -> 三, ``50%`` -> 百分之五十). Latin letters become
one lower-case token each (a spelled-out abbreviation); any other character is dropped and
counted in the report.
"""
from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from typing import List

from valle.text.tokenizer import WORD_BOUNDARY, OneLanguageTokenizer, TokenizedText

HANZI_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
ZH_PUNCTUATION = {
    "，": ",", "、": ",", "；": ",", "：": ",", "。": ".", "！": "!", "？": "?", "—": "-", "…": "…",
    ",": ",", ";": ",", ":": ",", ".": ".", "!": "!", "?": "?", "-": "-",
}


def script_mismatch(tokenizer: str, text: str) -> str:
    """Why ``text`` cannot be read by ``tokenizer`` (pinyin without a single Chinese character), else ""."""
    if tokenizer == "pinyin" and text.strip() and not HANZI_RE.search(text):
        return ("has no Chinese character: the pinyin tokenizer would spell it letter by letter; for English "
                "use --text-tokenizer espeak --language en-us")
    return ""


@functools.lru_cache(maxsize=1)
def load_jieba():
    """jieba, initialised once and quietly (it logs its dictionary build)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def numbers_to_chinese(text: str) -> str:
    """Arabic numbers, percentages, dates -> Chinese numerals (cn2an ``an2cn`` transform)."""
    if not re.search(r"\d", text):
        return text
    import cn2an

    try:
        return cn2an.transform(text, "an2cn")
    except Exception:  # cn2an rejects some shapes (e.g. "1.2.3"); read digit runs one by one
        return re.sub(r"\d+(?:\.\d+)?", lambda m: cn2an.an2cn(m.group(0)), text)


class PinyinTokenizer(OneLanguageTokenizer):
    name = "pinyin"
    language, language_name = "zh", "Chinese"

    def tokenize(self, text: str) -> TokenizedText:
        from pypinyin import Style, pinyin

        jieba = load_jieba()
        text = numbers_to_chinese(text or "")
        tokens: List[str] = []
        dropped: Counter = Counter()

        def boundary() -> None:
            if tokens and tokens[-1] not in (WORD_BOUNDARY,):
                tokens.append(WORD_BOUNDARY)

        for word in jieba.lcut(text, cut_all=False):
            if HANZI_RE.search(word):
                boundary()
                initials = pinyin(word, style=Style.INITIALS, strict=False, errors=lambda x: [None] * len(x))
                finals = pinyin(word, style=Style.FINALS_TONE3, strict=False, neutral_tone_with_five=True,
                                errors=lambda x: [None] * len(x))
                for ini, fin in zip(initials, finals):
                    if fin[0] is None:
                        continue
                    if ini[0]:
                        tokens.append(ini[0])
                    tokens.append(fin[0])
                continue
            for ch in word:
                if ch in ZH_PUNCTUATION:
                    tokens.append(ZH_PUNCTUATION[ch])
                elif ch.isspace():
                    boundary()
                elif ch.isascii() and ch.isalpha():
                    tokens.append(ch.lower())
                else:
                    dropped[ch] += 1
        while tokens and tokens[-1] == WORD_BOUNDARY:
            tokens.pop()
        return TokenizedText(tokens=tokens, lang="zh", tokenizer=self.name, dropped=dropped)
