"""The words of a transcript spoken in the first seconds of its recording (continuation prompts).

A continuation test entry cuts the first 3 s of an utterance as the prompt; ``prompt_text`` must be
the words said in those 3 s.  ``words_spoken_before`` finds them by forced alignment of the known
transcript with pocketsphinx 5 (its bundled en-us acoustic model and dictionary, no language
model): each word gets its start and end frame (10 ms), and a word belongs to the prompt when its
middle lies before the cut, so a word cut in half goes to whichever side holds more of it.  Pauses,
slow or fast speech and leading silence are where a character-share estimate goes wrong; the
alignment follows the audio.

The alignment needs every word in the en-us dictionary: a transcript with a word it lacks
(numbers as digits, rare names) or in another language gives ``None``, and the caller falls back to
its estimate.  One alignment costs ~0.2 CPU-s for 12 s of speech.
"""
from __future__ import annotations

import re
from typing import List, Optional

from valle.eval.audio import resample, to_mono
from valle.utils.sphinx_decode import decode_pcm

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100

_ALIGNER = {}


def _decoder():
    if "d" not in _ALIGNER:
        from pocketsphinx import Decoder

        _ALIGNER["d"] = Decoder(loglevel="FATAL", samprate=SAMPLE_RATE, lm=None)
    return _ALIGNER["d"]


def dictionary_word(word: str) -> str:
    """``"Reader,"`` -> ``"reader"``: lower case, outer punctuation off, inner apostrophes kept."""
    return re.sub(r"[^a-z']", "", word.lower()).strip("'")


def word_ends(wav, sample_rate: int, words: List[str]) -> Optional[List[tuple]]:
    """``[(start_s, end_s)]`` of each dictionary word in ``words`` as aligned on ``wav``, or None."""
    d = _decoder()
    if not words or any(d.lookup_word(w) is None for w in words):
        return None
    audio = resample(to_mono(wav), sample_rate, SAMPLE_RATE)
    try:
        d.set_align_text(" ".join(words))
        decode_pcm(d, audio)
    except RuntimeError:  # pocketsphinx gives no reason: the text could not be aligned
        return None
    segments = d.seg()  # None when the search found no path through the text
    if segments is None:
        return None
    spans = [(s.start_frame / FRAMES_PER_SECOND, (s.end_frame + 1) / FRAMES_PER_SECOND)
             for s in segments if not s.word.startswith(("<", "[", "+"))]  # <s>, <sil>, fillers
    return spans if len(spans) == len(words) else None


def words_spoken_before(wav, sample_rate: int, text: str, seconds: float) -> Optional[str]:
    """The leading words of ``text`` (as written) said in the first ``seconds`` of ``wav``; at least
    one word is left to continue with.  None when the alignment is impossible (see module doc)."""
    written = text.split()
    keep = [i for i, w in enumerate(written) if dictionary_word(w)]  # "-" and the like are not words
    spans = word_ends(wav, sample_rate, [dictionary_word(written[i]) for i in keep])
    if spans is None:
        return None
    said = 0
    for i, (start, end) in zip(keep, spans):
        if (start + end) / 2 >= seconds:
            break
        said = i + 1
    return " ".join(written[: min(said, len(written) - 1)])
