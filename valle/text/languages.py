"""Language codes: normalisation, VALL-E X language ids, and inline language tags.

Corpora spell languages many ways (``en_US``, ``EN``, ``English`` from lhotse's LibriTTS recipe);
the tokenizers want espeak voices (``en-us``, ``de``) or ``zh`` / ``ja``, and the VALL-E X model
wants one of its three language ids (en 0, zh 1, ja 2). Code-switched text marks segments with
tags, ``[EN]I like[EN][ZH]中文[ZH]``, as the published VALL-E X frontend does.
"""
from __future__ import annotations

import re
from typing import List, Optional, Tuple

VALLEX_LANGUAGE_IDS = {"en": 0, "zh": 1, "ja": 2}

# Names (as lhotse recipes and users write them) -> codes.
_NAMES = {
    "english": "en-us",
    "american": "en-us",
    "british": "en-gb",
    "chinese": "zh",
    "mandarin": "zh",
    "cmn": "zh",
    "japanese": "ja",
    "jp": "ja",
    "german": "de",
    "french": "fr-fr",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "russian": "ru",
    "dutch": "nl",
    "korean": "ko",
}


def normalize_language(code: str) -> str:
    """Canonical spelling: lower case, ``-`` separators; ``zh*``/``cmn*`` -> ``zh``, ``ja*`` -> ``ja``.

    ``en_US`` -> ``en-us``, ``EN`` -> ``en``, ``English`` -> ``en-us``, ``zh-CN`` -> ``zh``.
    Other codes are kept (after case/separator normalisation) as espeak voices.
    """
    if code is None or not str(code).strip():
        raise ValueError("empty language code; use an espeak voice such as en-us or de, or zh / ja")
    c = str(code).strip().lower().replace("_", "-")
    if c in _NAMES:
        return _NAMES[c]
    base = c.split("-")[0]
    if base in ("zh", "cmn"):
        return "zh"
    if base in ("ja", "jp", "jpn"):
        return "ja"
    return c


def base_language(code: str) -> str:
    """``en-us`` -> ``en``; ``zh`` -> ``zh``."""
    return normalize_language(code).split("-")[0]


def vallex_language(code: str) -> Optional[str]:
    """The VALL-E X language (``en``/``zh``/``ja``) of ``code``, or None if the model has none."""
    b = base_language(code)
    return b if b in VALLEX_LANGUAGE_IDS else None


def language_id(code: str) -> int:
    """VALL-E X language id: ``en*`` 0, ``zh*`` 1, ``ja*`` 2; anything else 0 (the model has 3 languages)."""
    return VALLEX_LANGUAGE_IDS.get(base_language(code), 0)


# Tags are upper case ([EN], [ZH], [JA], [DE], [EN-GB]) so that bracketed words in transcripts
# ("[ah]", "[sic]") stay text; [en], [zh], [ja] in any case are read as the VALL-E X tags.
_TAG_RE = re.compile(r"\[([A-Z]{2,3}(?:[-_][A-Z]{2,4})?)\](.*?)\[\1\]", re.DOTALL)
_STRAY_TAG_RE = re.compile(r"\[(?:EN|ZH|JA)\]")
# The three VALL-E X tags are also accepted in any case ([en]..[en]); other bracketed words stay text.
_ANY_CASE_TAG_RE = re.compile(r"\[(en|zh|ja)\]", re.IGNORECASE)


def _upper_tags(text: str) -> str:
    return _ANY_CASE_TAG_RE.sub(lambda m: m.group(0).upper(), text)


def split_language_tags(text: str, default_lang: Optional[str] = None) -> List[Tuple[str, str]]:
    """Split ``[EN]..[EN][ZH]..[ZH]`` text into ``[(lang, segment), ...]`` in text order.

    A tag (upper case) opens and closes a segment with the same code (normalised with
    :func:`normalize_language`: ``[EN-GB]`` -> ``en-gb``). Text outside any tag belongs to ``default_lang``; if there is
    none, such text is an error (the published frontend silently dropped it, which loses words).
    Blank untagged text (spaces between tags) is ignored.
    """
    segments: List[Tuple[str, str]] = []
    pos = 0
    text = _upper_tags(text)

    def untagged(chunk: str) -> None:
        if not chunk.strip():
            return
        stray = _STRAY_TAG_RE.search(chunk)
        if stray:
            raise ValueError(
                f"language tag {stray.group(0)} in {text!r} has no matching closing tag; "
                f"write {stray.group(0)}text{stray.group(0)} (the same tag opens and closes a segment)"
            )
        if default_lang is None:
            raise ValueError(
                f"text {chunk.strip()!r} is outside any language tag in {text!r}; wrap it in [EN]..[EN] "
                "(or [ZH], [JA]) or give a default language (--language)"
            )
        segments.append((normalize_language(default_lang), chunk))

    for m in _TAG_RE.finditer(text):
        untagged(text[pos:m.start()])
        segments.append((normalize_language(m.group(1)), m.group(2)))
        pos = m.end()
    untagged(text[pos:])
    return segments


def has_language_tags(text: str) -> bool:
    return _TAG_RE.search(_upper_tags(text)) is not None
