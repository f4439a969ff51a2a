"""Spoken forms for English written text: abbreviations, currency, ordinals, numbers, years.

The rules are those of the published VALL-E X English frontend (a Tacotron-era normaliser):
``Dr.`` -> ``doctor``, ``$5`` -> ``5 dollars`` -> ``five dollars``, ``1999`` -> ``nineteen
ninety-nine`` (years 1001-2999 read in pairs), ``3rd`` -> ``third``, ``1,000`` -> ``one thousand``.
The ``vallex`` tokenizer needs them bit-exact; the ``espeak`` tokenizer uses them for English voices
too, because espeak reads ``$5`` as "dollar five" and keeps ``Dr.`` as a sentence end.
The abbreviation list is data (``data/vallex_en.json``).
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

_comma_number_re = re.compile(r"([0-9][0-9\,]+[0-9])")
_decimal_number_re = re.compile(r"([0-9]+\.[0-9]+)")
_pounds_re = re.compile(r"£([0-9\,]*[0-9]+)")
_dollars_re = re.compile(r"\$([0-9\.\,]*[0-9]+)")
_ordinal_re = re.compile(r"[0-9]+(st|nd|rd|th)")
_number_re = re.compile(r"[0-9]+")


@functools.lru_cache(maxsize=1)
def english_rules() -> dict:
    return json.loads((DATA_DIR / "vallex_en.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _abbreviations():
    return [(re.compile(r"\b%s\." % abbr, re.IGNORECASE), word) for abbr, word in english_rules()["abbreviations"]]


@functools.lru_cache(maxsize=1)
def _inflect():
    import inflect

    return inflect.engine()


def expand_abbreviations(text: str) -> str:
    for regex, word in _abbreviations():
        text = regex.sub(word, text)
    return text


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _expand_dollars(m: re.Match) -> str:
    parts = m.group(1).split(".")
    if len(parts) > 2:
        return m.group(1) + " dollars"  # unexpected format: keep the digits, say the unit
    dollars = int(parts[0]) if parts[0] else 0
    cents = int(parts[1]) if len(parts) > 1 and parts[1] else 0
    if dollars and cents:
        return f"{dollars} {_plural(dollars, 'dollar', 'dollars')}, {cents} {_plural(cents, 'cent', 'cents')}"
    if dollars:
        return f"{dollars} {_plural(dollars, 'dollar', 'dollars')}"
    if cents:
        return f"{cents} {_plural(cents, 'cent', 'cents')}"
    return "zero dollars"


def _expand_number(m: re.Match) -> str:
    num = int(m.group(0))
    p = _inflect()
    if 1000 < num < 3000:
        if num == 2000:
            return "two thousand"
        if 2000 < num < 2010:
            return "two thousand " + p.number_to_words(num % 100)
        if num % 100 == 0:
            return p.number_to_words(num // 100) + " hundred"
        # years: 1999 -> "nineteen ninety-nine", 1905 -> "nineteen oh five"
        return p.number_to_words(num, andword="", zero="oh", group=2).replace(", ", " ")
    return p.number_to_words(num, andword="")


def normalize_numbers(text: str) -> str:
    text = _comma_number_re.sub(lambda m: m.group(1).replace(",", ""), text)
    text = _pounds_re.sub(r"\1 pounds", text)
    text = _dollars_re.sub(_expand_dollars, text)
    text = _decimal_number_re.sub(lambda m: m.group(1).replace(".", " point "), text)
    text = _ordinal_re.sub(lambda m: _inflect().number_to_words(m.group(0)), text)
    text = _number_re.sub(_expand_number, text)
    return text


def normalize_english(text: str) -> str:
    """Abbreviations then numbers; case and other characters are kept."""
    return normalize_numbers(expand_abbreviations(text))
