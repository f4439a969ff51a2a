"""Text -> (symbol ids, language ids) with the symbol table a checkpoint carries.

Why: a checkpoint only understands the ids it was trained on.  Synthesis must use the same
tokenizer as stage 2 of prepare.sh and the checkpoint's own ``text_symbols`` (never a table
rebuilt from new text), and must say clearly when the text cannot be expressed in that table:
a phoneme the model never saw would otherwise become a silent ``<unk>`` or a crash deep inside
the embedding.

The tokenizer is chosen from the checkpoint when possible: the 70-symbol published VALL-E X table
means ``vallex``; otherwise the tokenizer named in the training arguments; otherwise ``espeak``.
"""
from __future__ import annotations

import functools
import shutil
import subprocess
from typing import Dict, List, Optional, Sequence, Tuple


class TextFrontendError(ValueError):
    """The text cannot be turned into ids this checkpoint knows."""


VALLEX_LANGS = ("en", "zh", "ja")


def _espeak_exe() -> str:
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise TextFrontendError("espeak-ng is not installed: run `make setup` (apt-get install espeak-ng)")
    return exe


@functools.lru_cache(maxsize=1)
def espeak_voices() -> frozenset:
    """Language codes espeak-ng lists (``espeak-ng --voices`` second column), for hints."""
    out = subprocess.run([_espeak_exe(), "--voices"], capture_output=True, text=True, check=True).stdout
    return frozenset(p.split()[1] for p in out.splitlines()[1:] if len(p.split()) >= 2)


@functools.lru_cache(maxsize=64)
def has_espeak_voice(lang: str) -> bool:
    """Ask espeak-ng itself: aliases such as ``en`` work although ``--voices`` does not list them."""
    if lang in espeak_voices():
        return True
    res = subprocess.run([_espeak_exe(), "-q", "-v", lang, "a"], capture_output=True, text=True)
    return res.returncode == 0 and "does not exist" not in res.stderr


def check_espeak_voice(lang: str, option: str = "--language") -> None:
    if not has_espeak_voice(lang):
        base = lang.split("-")[0]
        close = sorted(v for v in espeak_voices() if v.split("-")[0] == base)
        hint = f" (close: {', '.join(close[:8])})" if close else ""
        raise TextFrontendError(
            f"no espeak-ng voice for language {lang!r} given by {option}{hint}: pick a code from "
            "`espeak-ng --voices`, e.g. en-us, en-gb, de, fr-fr, es"
        )


def vallex_lang(lang: str) -> str:
    """Map a language code (``en-us``, ``zh-cn``, ``ja``, ``de``) onto the vallex frontend's codes."""
    from valle.text.languages import vallex_language

    return vallex_language(lang) or lang


def vallex_symbols() -> List[str]:
    """The published VALL-E X 70-symbol table, kept as data in ``valle/text/data``."""
    import json
    from pathlib import Path

    import valle.text

    path = Path(valle.text.__file__).parent / "data" / "vallex_symbols.json"
    return list(json.loads(path.read_text(encoding="utf-8"))["symbols"])


def detect_tokenizer(text_symbols: Optional[Sequence[str]], train_args: Optional[dict]) -> str:
    """Pick the tokenizer a checkpoint was trained with."""
    if text_symbols is not None and list(text_symbols) == vallex_symbols():
        return "vallex"
    for key in ("text_tokenizer", "tokenizer"):
        if train_args and isinstance(train_args.get(key), str):
            return train_args[key]
    return "espeak"


class TextEncoder:
    """Tokenize text in a language and map it onto a checkpoint's symbol ids."""

    def __init__(self, text_symbols: Sequence[str], tokenizer: str = "espeak"):
        from valle.text.symbol_table import SymbolTable

        self.tokenizer_name = tokenizer
        self.table = SymbolTable(list(text_symbols)) if not isinstance(text_symbols, SymbolTable) else text_symbols
        self._tokenizers: Dict[str, object] = {}

    def _language_for_tokenizer(self, lang: str) -> str:
        return vallex_lang(lang) if self.tokenizer_name == "vallex" else lang

    def _tokenizer(self, lang: str, option: str):
        from valle.text.tokenizer import get_text_tokenizer

        # espeak hands zh/ja to pinyin/openjtalk, vallex has its own en/zh/ja frontends:
        # only the remaining languages need an espeak-ng voice.
        if self.tokenizer_name in ("espeak", "vallex") and vallex_lang(lang) not in ("zh", "ja") and not (
            self.tokenizer_name == "vallex" and vallex_lang(lang) == "en"
        ):
            check_espeak_voice(lang, option)
        from valle.text.languages import normalize_language

        lang = normalize_language(lang)
        key = self._language_for_tokenizer(lang)
        if key not in self._tokenizers:
            try:
                self._tokenizers[key] = get_text_tokenizer(self.tokenizer_name, key)
            except (ValueError, KeyError, RuntimeError) as e:
                raise TextFrontendError(
                    f"cannot make the {self.tokenizer_name!r} tokenizer for language {lang!r} "
                    f"({option}): {e}"
                ) from e
        return self._tokenizers[key]

    def encode(self, text: str, lang: str, option: str = "--language") -> Tuple[List[int], List[int]]:
        """Return ``(symbol ids, language ids)``, one language id per symbol."""
        from valle.text.languages import language_id, normalize_language

        lang = normalize_language(lang)
        if not text.strip():
            return [], []
        tok = self._tokenizer(lang, option)
        out = tok(text, self._language_for_tokenizer(lang))
        tokens = list(out.tokens)
        missing = sorted({t for t in tokens if t not in self.table})
        if missing:
            shown = " ".join(repr(m) for m in missing)
            raise TextFrontendError(
                f"phoneme symbols {shown} of the text {text!r} (language {lang}, tokenizer "
                f"{self.tokenizer_name}) are not in the checkpoint's symbol table "
                f"({len(self.table)} symbols): the model never saw them. Use the language the "
                "model was trained on (--language / --prompt-language), rephrase the text, or "
                "train on data that contains these sounds"
            )
        ids = self.table.encode(tokens)
        langs = getattr(out, "langs", None)
        if langs:
            lang_ids = [language_id(x) for x in langs]
        else:
            lang_ids = [language_id(lang)] * len(ids)
        return ids, lang_ids
