"""Spoken forms for English written text: abbreviations, currency, ordinals, numbers, years.

The rules are those of the published VALL-E X English frontend (a Tacotron-era normaliser):
``Dr.`` -> ``doctor``, ``$5`` -> ``5 dollars`` -> ``five dollars``, ``1999`` -> ``nineteen
ninety-nine`` (years 1001-2999 read in pairs), ``3rd`` -> ``third``, ``1,000`` -> ``one thousand``.
The ``vallex`` tokenizer needs them bit-exact; the ``espeak`` tokenizer uses them for English voices
too, because espeak reads ``$5`` as "dollar five" and keeps ``Dr.`` as a sentence end.
The abbreviation list is data (``data/vallex_en.json``).

Numbers are spelled the way the ``inflect`` package spells them (the published frontend calls
``inflect.engine().number_to_words``); the rules are written here because importing inflect 7
costs ~4 s of CPU per process (typeguard instruments it at import), more than tokenizing a corpus.
tests/text/test_text_english_numbers.py checks them against inflect itself.
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


_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
          "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_MILLS = ["", " thousand", " million", " billion", " trillion", " quadrillion", " quintillion", " sextillion",
          " septillion", " octillion", " nonillion", " decillion"]
_ORDINAL_ENDINGS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                    "nine": "ninth", "twelve": "twelfth"}


def _below_100(n: int) -> str:
    if n < 20:
        return _UNITS[n]
    return _TENS[n // 10] + ("-" + _UNITS[n % 10] if n % 10 else "")


def _below_1000(n: int, andword: str) -> str:
    hundreds, rest = divmod(n, 100)
    if not hundreds:
        return _below_100(rest)
    words = _UNITS[hundreds] + " hundred"
    if rest:
        words += (f" {andword} " if andword else " ") + _below_100(rest)
    return words


def number_to_words(n: int, andword: str = "and") -> str:
    """Cardinal words as inflect's ``number_to_words(n, andword=...)``: thousands groups joined by
    ", ", except a last group below 100, which joins with " <andword> " (``one thousand and one``)."""
    if n == 0:
        return "zero"
    groups = []
    while n:
        n, g = divmod(n, 1000)
        groups.append(g)
    if len(groups) > len(_MILLS):
        raise ValueError("number too large to spell")
    parts = [_below_1000(g, andword) + _MILLS[i] for i, g in reversed(list(enumerate(groups))) if g]
    words = ", ".join(parts)
    if len(parts) > 1 and " " not in parts[-1]:
        words = ", ".join(parts[:-1]) + (f" {andword} " if andword else " ") + parts[-1]
    return words


def ordinal_words(n: int) -> str:
    """``21`` -> ``twenty-first``, ``101`` -> ``one hundred and first`` (inflect's default andword)."""
    words = number_to_words(n)
    m = re.search(r"([a-z]+)$", words)
    last = m.group(1)
    if last in _ORDINAL_ENDINGS:
        last = _ORDINAL_ENDINGS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return words[:m.start()] + last


def year_words(n: int) -> str:
    """A four-digit year read in pairs, zeros as "oh": ``1999`` -> ``nineteen ninety-nine``,
    ``1905`` -> ``nineteen oh five`` (inflect's ``group=2, zero="oh"`` without the comma)."""
    first, second = divmod(n, 100)
    if second == 0:
        tail = "oh oh"
    elif second < 10:
        tail = "oh " + _UNITS[second]
    else:
        tail = _below_100(second)
    return _below_100(first) + " " + tail


def _spell(n: int, andword: str = "") -> str:
    try:
        return number_to_words(n, andword)
    except ValueError:  # beyond decillions: read the digits
        return " ".join(_UNITS[int(d)] for d in str(n))


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
    if 1000 < num < 3000:
        if num == 2000:
            return "two thousand"
        if 2000 < num < 2010:
            return "two thousand " + _UNITS[num % 100]
        if num % 100 == 0:
            return _below_100(num // 100) + " hundred"
        return year_words(num)
    return _spell(num)


def _ordinal(text: str) -> str:
    n = int(re.match(r"[0-9]+", text).group(0))
    try:
        return ordinal_words(n)
    except ValueError:
        return _spell(n) + "th"


def normalize_numbers(text: str) -> str:
    text = _comma_number_re.sub(lambda m: m.group(1).replace(",", ""), text)
    text = _pounds_re.sub(r"\1 pounds", text)
    text = _dollars_re.sub(_expand_dollars, text)
    text = _decimal_number_re.sub(lambda m: m.group(1).replace(".", " point "), text)
    text = _ordinal_re.sub(lambda m: _ordinal(m.group(0)), text)
    text = _number_re.sub(_expand_number, text)
    return text


def normalize_english(text: str) -> str:
    """Abbreviations then numbers; case and other characters are kept."""
    return normalize_numbers(expand_abbreviations(text))
