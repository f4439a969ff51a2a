"""Text normalisation and corpus WER from summed edits."""
from __future__ import annotations

import math

import pytest

from valle.eval.wer import TranscriptError, corpus_wer, normalize_text, sum_errors, utterance_errors


def test_normalisation_numbers_case_punctuation():
    assert normalize_text("Dr. Smith paid $5 in 1999, didn't he?") == (
        "doctor smith paid five dollars in nineteen ninety nine didn't he"
    )
    # both sides go through it: a written and a spoken form of one sentence score 0
    assert utterance_errors("The 3rd of May -- 'twas well-known!", "the third of may twas well known").errors == 0


def test_corpus_wer_is_summed_edits_not_mean_of_rates():
    refs = ["good morning", "the quick brown fox jumps over the lazy dog near the bank"]
    hyps = ["good", "the quick brown fox jumps over the lazy dog near the bank"]
    per_utt = [utterance_errors(r, h) for r, h in zip(refs, hyps)]
    assert [e.errors for e in per_utt] == [1, 0]
    assert [e.reference_length for e in per_utt] == [2, 12]
    mean_of_rates = sum(e.rate for e in per_utt) / 2  # (0.5 + 0) / 2
    assert mean_of_rates == pytest.approx(0.25)
    assert corpus_wer(refs, hyps) == pytest.approx(1 / 14)
    assert sum_errors(per_utt).rate == pytest.approx(1 / 14)


def test_substitution_deletion_insertion_counts():
    e = utterance_errors("one two three four", "one too three four five")
    assert (e.substitutions, e.deletions, e.insertions, e.reference_length) == (1, 0, 1, 4)
    e = utterance_errors("hello there friend", "")
    assert (e.deletions, e.rate) == (3, 1.0)


def test_character_error_rate_for_chinese():
    e = utterance_errors("你好，世界。", "你好世", language="zh")
    assert (e.reference_length, e.deletions) == (4, 1)
    assert utterance_errors("hello world", "hello word", unit="char").reference_length == 10


def test_empty_reference_is_an_error_not_a_nan():
    with pytest.raises(TranscriptError, match="empty after normalisation"):
        utterance_errors("  ...  ", "something")
    assert math.isnan(sum_errors([]).rate)
