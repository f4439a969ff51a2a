"""``openjtalk`` tokenizer (ja): OpenJTalk phonemes (pyopenjtalk-plus, offline dictionary).

Tokens: OpenJTalk's phoneme set (``a i u e o``, devoiced ``I U``, ``N`` moraic nasal, ``cl``
geminate, ``k ky g sh ch ts ...``); ``_`` at accent-phrase boundaries (the nearest thing Japanese
text has to word boundaries); punctuation as ASCII marks (``、`` -> ``,``, ``。`` -> ``.``).
Pitch accent is not encoded (the ``vallex`` tokenizer keeps it as ``↑``/``↓``). Characters that
are neither Japanese nor punctuation are dropped and counted.
"""
from __future__ import annotations

from collections import Counter
from typing import List

from valle.text.japanese_labels import BOUNDARY, JAPANESE_CHARACTER_RE, accent_phonemes, split_marks
from valle.text.tokenizer import WORD_BOUNDARY, OneLanguageTokenizer, TokenizedText

JA_PUNCTUATION = {
    "、": ",", "，": ",", ",": ",", "。": ".", "．": ".", ".": ".", "！": "!", "!": "!", "？": "?", "?": "?",
    "…": "…", "・": ",", "；": ",", "：": ",", "ー": "-",
}


class OpenJTalkTokenizer(OneLanguageTokenizer):
    name = "openjtalk"
    language, language_name = "ja", "Japanese"

    def tokenize(self, text: str) -> TokenizedText:
        tokens: List[str] = []
        dropped: Counter = Counter()

        def boundary() -> None:
            if tokens and tokens[-1] != WORD_BOUNDARY:
                tokens.append(WORD_BOUNDARY)

        runs, marks = split_marks(text or "")
        for i, run in enumerate(runs):
            if JAPANESE_CHARACTER_RE.match(run):
                boundary()
                for phoneme, move in accent_phonemes(run):
                    tokens.append(phoneme)
                    if move == BOUNDARY:
                        boundary()
            if i < len(marks):
                mark = marks[i]
                if mark in JA_PUNCTUATION:
                    if tokens and tokens[-1] == WORD_BOUNDARY:
                        tokens.pop()
                    tokens.append(JA_PUNCTUATION[mark])
                elif mark.isspace():
                    boundary()
                else:
                    dropped[mark] += 1
        while tokens and tokens[-1] == WORD_BOUNDARY:
            tokens.pop()
        return TokenizedText(tokens=tokens, lang="ja", tokenizer=self.name, dropped=dropped)
