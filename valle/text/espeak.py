"""``espeak`` tokenizer: phonemizer 3.4 + espeak-ng, one token per espeak phone.

Segmentation (what a token is):
- a phone as espeak-ng delimits it (phonemizer's phone separator): ``t``, ``aɪ``, ``ɑː``, ``oʊ``;
- a stress mark ``ˈ`` / ``ˌ`` before its vowel is its own token (fewer symbols than stressed vowels);
- ``_`` between words (where the text had white space);
- each punctuation mark is a token (``,`` ``.`` ``?`` ``!`` ``;`` ``:`` ``—`` ``…`` quotes, brackets).

Punctuation is split off by this module, not by phonemizer's ``preserve_punctuation``: that one
breaks numbers at ``3.5`` and misaligns a batch's outputs (one more output line than inputs, or an
empty text taking its neighbour's phones). Text chunks between marks are phonemized in one call
per language (phonemizer drives libespeak-ng in-process; ~0.4 ms per sentence).

Inline language tags (``[EN]..[EN][ZH]..[ZH]``) switch the language per segment.
English voices first get :func:`valle.text.english_normalize.normalize_english` (espeak alone
reads ``$5`` as "dollar five" and ``Dr.`` as the end of a sentence); other voices read numbers with
espeak's own rules. ``zh*`` and ``ja*`` are handed to the pinyin / openjtalk tokenizers.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from typing import Dict, List, Optional, Tuple

from valle.text.english_normalize import normalize_english
from valle.text.languages import has_language_tags, split_language_tags
from valle.text.tokenizer import WORD_BOUNDARY, TextTokenizer, TokenizedText

STRESS_MARKS = ("ˈ", "ˌ")
_PUNCT_CHARS = ";:!?¡¿—–…\"«»“”„()[]{}"
# A '.' or ',' between two digits belongs to the number (3.5, 1,000), elsewhere it is punctuation.
_PUNCT_RE = re.compile(r"((?:[%s]|\.(?!\d)|(?<!\d)\.|,(?!\d)|(?<!\d),)+)" % re.escape(_PUNCT_CHARS))
_SPACE_RE = re.compile(r"\s+")

_quiet = logging.getLogger("valle.text.espeak.phonemizer")
_quiet.setLevel(logging.ERROR)


def remove_unspeakable(text: str) -> Tuple[str, Counter]:
    """Drop characters espeak-ng can never speak (private use, unassigned, control and format
    characters, and U+FFFD left by a bad decode) and count them, so the stage-2 report lists
    them instead of their vanishing inside a word."""
    kept, dropped = [], Counter()
    for ch in text:
        if ch == "\ufffd" or (not ch.isspace() and unicodedata.category(ch) in ("Co", "Cn", "Cc", "Cf", "Cs")):
            dropped[ch] += 1
        else:
            kept.append(ch)
    return ("".join(kept), dropped) if dropped else (text, dropped)


def split_punctuation(text: str) -> List[Tuple[bool, str]]:
    """``[(is_punctuation, piece), ...]`` covering ``text`` in order (white space kept in pieces)."""
    pieces = []
    for i, piece in enumerate(_PUNCT_RE.split(text)):
        if piece:
            pieces.append((i % 2 == 1, piece))
    return pieces


def punctuation_tokens(marks: str) -> List[str]:
    marks = marks.replace("...", "…")
    return [c for c in marks if not c.isspace()]


def phone_tokens(phonemized_word: str) -> List[str]:
    """``d|ˈɑː|k|t|ɚ`` -> ``d ˈ ɑː k t ɚ``."""
    tokens = []
    for phone in phonemized_word.split("|"):
        while phone and phone[0] in STRESS_MARKS:
            tokens.append(phone[0])
            phone = phone[1:]
        if phone:
            tokens.append(phone)
    return tokens


def espeak_voice(lang: str) -> str:
    """A voice phonemizer accepts for ``lang``: bare ``en`` -> ``en-us``, ``fr`` -> ``fr-fr``
    (espeak-ng knows them as aliases, phonemizer only accepts the voice names it lists)."""
    try:
        from phonemizer.backend import EspeakBackend

        supported = EspeakBackend.supported_languages()
    except RuntimeError:  # espeak-ng missing: let the backend constructor say so
        return lang
    if lang in supported:
        return lang
    for candidate in ({"en": "en-us"}.get(lang, ""), f"{lang}-{lang}"):
        if candidate in supported:
            return candidate
    regional = sorted(v for v in supported if v.startswith(lang + "-"))
    return regional[0] if regional else lang


class EspeakTokenizer(TextTokenizer):
    name = "espeak"

    def __init__(self, lang: Optional[str] = "en-us"):
        super().__init__(lang)
        self._backends: Dict[str, object] = {}
        self._routes: Dict[str, TextTokenizer] = {}

    def backend(self, lang: str):
        """One phonemizer EspeakBackend per voice (creating one loads the voice: reuse it)."""
        if lang not in self._backends:
            try:
                from phonemizer.backend import EspeakBackend
            except ImportError as e:  # pragma: no cover - install problem
                raise RuntimeError("phonemizer is not installed: run `make setup` (pip install -e .)") from e
            try:
                # remove-flags: espeak's "(en)...(de)" switch markers around words it reads in another
                # language would otherwise become tokens (and letters in the vallex fallback)
                self._backends[lang] = EspeakBackend(
                    espeak_voice(lang), preserve_punctuation=False, with_stress=True, logger=_quiet,
                    language_switch="remove-flags",
                )
            except RuntimeError as e:
                if "not supported" not in str(e):
                    raise RuntimeError(
                        f"phonemizer cannot start espeak-ng ({e}); install it: `apt-get install espeak-ng` "
                        "(or set PHONEMIZER_ESPEAK_LIBRARY to libespeak-ng.so)"
                    ) from e
                raise ValueError(
                    f"espeak-ng has no voice {lang!r} ({e}); list voices with `espeak-ng --voices` "
                    "and pass one with --language (zh and ja use the pinyin / openjtalk tokenizers)"
                ) from e
        return self._backends[lang]

    def _route(self, lang: str) -> Optional[TextTokenizer]:
        """espeak-ng garbles Hanzi/Kanji: zh and ja go to their own tokenizers."""
        if lang not in ("zh", "ja"):
            return None
        if lang not in self._routes:
            from valle.text.tokenizer import get_text_tokenizer

            self._routes[lang] = get_text_tokenizer("pinyin" if lang == "zh" else "openjtalk", lang)
        return self._routes[lang]

    def phonemize_chunks(self, chunks: List[str], lang: str) -> List[str]:
        """Phonemize text chunks (no punctuation inside) in one call; one output per chunk."""
        from phonemizer.separator import Separator

        todo = [i for i, c in enumerate(chunks) if c.strip()]
        out = [""] * len(chunks)
        if todo:
            res = self.backend(lang).phonemize(
                [chunks[i] for i in todo], separator=Separator(word=" ", phone="|", syllable=""), strip=True
            )
            if len(res) != len(todo):  # never seen; guard against a phonemizer misalignment
                raise RuntimeError(f"phonemizer returned {len(res)} lines for {len(todo)} inputs ({lang})")
            for i, r in zip(todo, res):
                out[i] = r
        return out

    def batch(self, texts, langs=None) -> List[TokenizedText]:
        """Like the base batch, plus inline language tags: ``[EN]hello[EN][ZH]你好[ZH]`` is read
        segment by segment, each in its language (zh/ja segments by pinyin/openjtalk)."""
        texts = list(texts)
        langs = list(langs) if langs is not None else [None] * len(texts)
        if not any("[" in (t or "") for t in texts):
            return super().batch(texts, langs)
        flat_texts, flat_langs, spans = [], [], []
        for text, lang in zip(texts, langs):
            default = lang or self.lang
            segs = split_language_tags(text or "", default) if has_language_tags(text or "") else None
            if segs is None:
                split_language_tags(text or "", default or "en-us")  # raises on a stray [EN]/[ZH]/[JA]
                segs = [(lang, text)]
            spans.append((len(flat_texts), len(segs)))
            for seg_lang, seg_text in segs:
                flat_texts.append(seg_text)
                flat_langs.append(seg_lang)
        flat = super().batch(flat_texts, flat_langs)
        out = []
        for start, n in spans:
            parts = flat[start:start + n]
            if n == 1:
                out.append(parts[0])
                continue
            merged = TokenizedText(tokens=[], lang=parts[0].lang, tokenizer=self.name)
            for part in parts:
                if merged.tokens and part.tokens:
                    merged.tokens.append(WORD_BOUNDARY)
                merged.tokens.extend(part.tokens)
                merged.substituted.update(part.substituted)
                merged.dropped.update(part.dropped)
            out.append(merged)
        return out

    def _batch_one_language(self, texts: List[str], lang: str) -> List[TokenizedText]:
        routed = self._route(lang)
        if routed is not None:
            return routed.batch(texts, [lang] * len(texts))
        english = lang.split("-")[0] == "en"
        pieces_per_text = []
        unspeakable_per_text = []
        chunks: List[str] = []
        for text in texts:
            text, unspeakable = remove_unspeakable(text or "")
            unspeakable_per_text.append(unspeakable)
            text = _SPACE_RE.sub(" ", text).strip()
            if english:
                text = normalize_english(text)
            pieces = split_punctuation(text)
            for is_punct, piece in pieces:
                if not is_punct:
                    chunks.append(piece)
            pieces_per_text.append(pieces)
        phonemized = iter(self.phonemize_chunks(chunks, lang))
        results = []
        for pieces, unspeakable in zip(pieces_per_text, unspeakable_per_text):
            tokens: List[str] = []
            dropped: Counter = Counter(unspeakable)

            def boundary() -> None:
                if tokens and tokens[-1] != WORD_BOUNDARY:
                    tokens.append(WORD_BOUNDARY)

            for is_punct, piece in pieces:
                if is_punct:
                    tokens.extend(punctuation_tokens(piece))
                    continue
                phones = next(phonemized)
                if piece[:1].isspace():
                    boundary()
                words = [w for w in phones.split(" ") if w]
                if piece.strip() and not words:
                    dropped[piece.strip()] += 1  # espeak said nothing for it (symbols, emoji)
                for k, word in enumerate(words):
                    if k:
                        boundary()
                    tokens.extend(phone_tokens(word))
                if piece[-1:].isspace():
                    boundary()
            while tokens and tokens[-1] == WORD_BOUNDARY:
                tokens.pop()
            results.append(TokenizedText(tokens=tokens, lang=lang, tokenizer=self.name, dropped=dropped))
        return results
