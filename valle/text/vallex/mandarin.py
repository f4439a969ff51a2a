"""VALL-E X Mandarin cleaning: text -> IPA-like string with tone arrows (published ``chinese_to_ipa``).

1. Arabic numbers -> Chinese numerals, digit run by digit run (``cn2an.an2cn``; ``3`` -> 三).
2. ``、；：`` -> ``，``; jieba words; each word with Hanzi -> pypinyin BOPOMOFO syllables (a syllable
   without a tone mark is tone 1: ``ˉ`` added), words separated by a space; other words kept.
3. Latin letters -> Mandarin letter names in bopomofo (``data/vallex_zh.json``).
4. Bopomofo -> IPA by ordered substitutions (tones: ``→`` 1, ``↑`` 2, ``↓↑`` 3, ``↓`` 4, neutral
   nothing; aspiration ``ʰ`` / unaspirated ``⁼``; full-width punctuation -> ASCII).
5. Glides: ``i`` before a/o/e -> ``j``, ``u`` before a/o/ə/e -> ``w``; the apical vowel after
   retroflex sibilants is ``ɹ``` and after ``s``-type sibilants ``ɹ``; ``ɻ`` -> ``ɹ```.
No tone sandhi (the published model was trained without it).
"""
from __future__ import annotations

import functools
import json
import re
from typing import List

from valle.text.english_normalize import DATA_DIR
from valle.text.pinyin import load_jieba

_HANZI_RE = re.compile(r"[\u4e00-\u9fff]")
_NUMBER_RE = re.compile(r"\d+(?:\.?\d+)?")
_BARE_SYLLABLE_RE = re.compile(r"([\u3105-\u3129])$")


@functools.lru_cache(maxsize=1)
def _rules():
    data = json.loads((DATA_DIR / "vallex_zh.json").read_text(encoding="utf-8"))
    latin = [(re.compile(a, re.IGNORECASE), b) for a, b in data["latin_to_bopomofo"]]
    bopomofo = [(re.compile(a), b) for a, b in data["bopomofo_to_ipa"]]
    return latin, bopomofo


def number_to_chinese(text: str) -> str:
    import cn2an

    for number in _NUMBER_RE.findall(text):
        text = text.replace(number, cn2an.an2cn(number), 1)
    return text


def chinese_to_bopomofo(text: str) -> str:
    from pypinyin import BOPOMOFO, lazy_pinyin

    text = text.replace("、", "，").replace("；", "，").replace("：", "，")
    out = ""
    for word in load_jieba().lcut(text, cut_all=False):
        if not _HANZI_RE.search(word):
            out += word
            continue
        syllables = [_BARE_SYLLABLE_RE.sub(r"\1ˉ", s) for s in lazy_pinyin(word, BOPOMOFO)]
        if out != "":
            out += " "
        out += "".join(syllables)
    return out


def chinese_to_ipa(text: str) -> str:
    latin, bopomofo = _rules()
    text = chinese_to_bopomofo(number_to_chinese(text))
    for regex, repl in latin:
        text = regex.sub(repl, text)
    for regex, repl in bopomofo:
        text = regex.sub(repl, text)
    text = re.sub("i([aoe])", r"j\1", text)
    text = re.sub("u([aoəe])", r"w\1", text)
    text = re.sub("([sɹ]`[⁼ʰ]?)([→↓↑ ]+|$)", r"\1ɹ`\2", text).replace("ɻ", "ɹ`")
    text = re.sub("([s][⁼ʰ]?)([→↓↑ ]+|$)", r"\1ɹ\2", text)
    return text


def clean_many(texts: List[str]) -> List[str]:
    return [chinese_to_ipa(t) for t in texts]
