"""Closed-set voice identification and prompt similarity (valle.eval.voice_match) on espeak-ng voices."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from valle.eval.speaker import load_speaker
from valle.eval.voice_match import VoiceMatcher

SENTENCES = ["Place blue at F two now.", "Set green by A nine soon.", "Lay white in R four again.",
             "Bin red with Z six please."]


def test_outputs_are_matched_to_their_own_voice_and_prompt(espeak_wav, tmp_path):
    def say(text, voice, name):
        return sf.read(str(espeak_wav(text, tmp_path / f"{name}.wav", voice)), dtype="float32")

    voices = {"low": "en-us+m3", "high": "en-us+f4"}
    recordings = {v: [say(s, espeak, f"{v}{i}") for i, s in enumerate(SENTENCES[:3])] for v, espeak in voices.items()}
    matcher = VoiceMatcher(load_speaker("resemblyzer"), recordings)
    prompts = {v: matcher.embed(*recordings[v][0]) for v in voices}
    new = {v: say(SENTENCES[3], espeak, f"{v}_new") for v, espeak in voices.items()}
    silent = (np.zeros(16000, np.float32), 16000)

    right = matcher.score([new["low"], new["high"]], ["low", "high"], [prompts["low"], prompts["high"]])
    assert right["voice_identified"] == 1.0 and right["not_embedded"] == 0
    assert right["sim_own_voice"] > right["sim_other_voices"]
    # the same outputs said to be meant in the other voice: not identified, further from that voice's prompt
    wrong = matcher.score([new["low"], new["high"]], ["high", "low"], [prompts["high"], prompts["low"]])
    assert wrong["voice_identified"] == 0.0 and wrong["sim_prompt"] < right["sim_prompt"]
    assert wrong["sim_other_voices"] > right["sim_other_voices"]
    # an output without speech is counted, never embedded, and not identified
    some = matcher.score([new["low"], silent], ["low", "high"], [prompts["low"], prompts["high"]])
    assert some["not_embedded"] == 1 and some["voice_identified"] == 0.5


def test_one_voice_is_refused():
    with pytest.raises(ValueError, match="at least 2 voices"):
        VoiceMatcher(None, {"only": []})
