"""VALL-E X Japanese cleaning: text -> IPA-like string with pitch arrows (published ``japanese_to_ipa2``).

1. ``％`` -> パーセント; the text is split at marks (anything OpenJTalk does not read); each run
   that starts with a Japanese character becomes OpenJTalk phonemes (``ch``->``ʧ``, ``sh``->``ʃ``,
   ``cl``->``Q``) with a space at accent-phrase boundaries, ``↓`` after the accent nucleus and
   ``↑`` after a phrase's first mora (:mod:`valle.text.japanese_labels`); runs after the first are
   preceded by a space; each mark is transliterated with unidecode (``、`` -> ``,``).
2. ``...`` -> ``…``; geminate ``Q`` and moraic ``N`` take the place of the next consonant
   (``Qk`` -> ``k#k``, ``Nm`` -> ``mm``, ``Nk`` -> ``ŋk``).
3. Ordered romaji -> IPA substitutions (``u``->``ɯ``, ``ni``->``n^i``, ``hi``->``çi``, devoiced
   ``U``->``ɯ*`` ...), all in ``data/vallex_ja.json``.
"""
from __future__ import annotations

import functools
import json
import re
from typing import List

from unidecode import unidecode

from valle.text.english_normalize import DATA_DIR
from valle.text.japanese_labels import JAPANESE_CHARACTER_RE, accent_phonemes, split_marks


@functools.lru_cache(maxsize=1)
def _rules():
    data = json.loads((DATA_DIR / "vallex_ja.json").read_text(encoding="utf-8"))
    comp = lambda pairs: [(re.compile(a), b) for a, b in pairs]  # noqa: E731
    return (comp(data["symbols_to_japanese"]), comp(data["sokuon"]), comp(data["hatsuon"]),
            comp(data["romaji_to_ipa2"]))


def japanese_to_romaji_with_accent(text: str) -> str:
    symbols, _, _, _ = _rules()
    for regex, repl in symbols:
        text = regex.sub(repl, text)
    runs, marks = split_marks(text)
    out = ""
    for i, run in enumerate(runs):
        if JAPANESE_CHARACTER_RE.match(run):
            if out != "":
                out += " "
            for phoneme, move in accent_phonemes(run):
                out += phoneme.replace("ch", "ʧ").replace("sh", "ʃ").replace("cl", "Q") + move
        if i < len(marks):
            out += unidecode(marks[i]).replace(" ", "")
    return out


def japanese_to_ipa2(text: str) -> str:
    _, sokuon, hatsuon, romaji = _rules()
    text = japanese_to_romaji_with_accent(text).replace("...", "…")
    for table in (sokuon, hatsuon, romaji):
        for regex, repl in table:
            text = regex.sub(repl, text)
    return text


def clean_many(texts: List[str]) -> List[str]:
    return [japanese_to_ipa2(t) for t in texts]
