"""Our number spelling equals inflect's (which the published VALL-E X frontend used) on many numbers."""
import random

import pytest

from valle.text.english_normalize import normalize_english, normalize_numbers, number_to_words, ordinal_words, year_words


@pytest.fixture(scope="module")
def inflect_engine():
    import inflect  # slow import (typeguard): only this test pays it

    return inflect.engine()


def _numbers():
    rng = random.Random(0)
    nums = list(range(0, 1100)) + [10 ** k for k in range(3, 34)] + [10 ** k + 1 for k in range(3, 33)]
    nums += [rng.randrange(10 ** rng.randint(4, 33)) for _ in range(300)]
    return nums


def test_cardinals_match_inflect(inflect_engine):
    for n in _numbers():
        for andword in ("", "and"):
            assert number_to_words(n, andword) == inflect_engine.number_to_words(n, andword=andword), (n, andword)


def test_ordinals_and_years_match_inflect(inflect_engine):
    for n in list(range(0, 300)) + [1001, 1234, 100000, 1000021, 21000000]:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10 if n % 100 not in (11, 12, 13) else 0, "th")
        assert ordinal_words(n) == inflect_engine.number_to_words(f"{n}{suffix}"), n
    for n in range(1001, 3000, 7):
        if n % 100:
            expected = inflect_engine.number_to_words(n, andword="", zero="oh", group=2).replace(", ", " ")
            assert year_words(n) == expected, n


def test_normalizer_readings():
    assert normalize_english("Dr. Smith paid $5 in 1999.") == "doctor Smith paid five dollars in nineteen ninety-nine."
    assert normalize_numbers("$1.01 and £3, the 2nd of 1,250 in 2007 or 1900; 3.14") == (
        "one dollar, one cent and three pounds, the second of twelve fifty in "  # 1,250 reads as a year
        "two thousand seven or nineteen hundred; three point fourteen")
    assert normalize_numbers("9" * 40) == " ".join(["nine"] * 40)  # beyond decillions: digit by digit
