"""Continuation prompts: the words said in the first 3 s come from pocketsphinx forced alignment."""
from __future__ import annotations

import numpy as np

from valle.eval.prompt_words import word_ends, words_spoken_before
from valle.eval.testlist import _words_before


def test_prompt_words_follow_the_audio_not_the_character_share(librispeech_utterance):
    wav, sr, text = librispeech_utterance
    said = words_spoken_before(wav, sr, text, 3.0)
    assert said and text.startswith(said) and len(said.split()) < len(text.split())
    # the aligned words lie where the audio says: the last prompt word's middle is before 3 s and
    # the next word's after it (the LibriSpeech sample starts with 0.44 s of silence)
    words = [w.lower() for w in text.split()]
    spans = word_ends(wav, sr, words)
    n = len(said.split())
    assert sum(spans[n - 1]) / 2 < 3.0 <= sum(spans[n]) / 2
    assert 0.2 < spans[0][0] < 0.7
    # 1.5 s of silence before the speech: the first 3 s now hold what the first 1.5 s held before,
    # while the share of the characters (the old estimate) barely moves
    padded = np.concatenate([np.zeros(int(1.5 * sr), np.float32), wav])
    shifted = words_spoken_before(padded, sr, text, 3.0)
    assert shifted == words_spoken_before(wav, sr, text, 1.5)
    share = _words_before(text, 3.0, padded.size / sr)
    assert len(share.split()) > len(shifted.split()) + 2, (share, shifted)


def test_prompt_words_need_dictionary_words(librispeech_utterance):
    wav, sr, text = librispeech_utterance
    assert words_spoken_before(wav, sr, "zzqxv " + text, 3.0) is None  # not in the en-us dictionary
    assert words_spoken_before(wav, sr, "", 3.0) is None
