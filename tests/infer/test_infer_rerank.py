"""valle.bin.infer --best-of N --rerank: N whole candidates scored by real pocketsphinx/resemblyzer."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from valle.bin.infer import main

PROMPT_TEXT = "The museum keeps its oldest maps in a dark room."


def _argv(ckpts, prompt_wav, out, *extra):
    return ["--checkpoint", str(ckpts["both"]), "--codec", "encodec:random", "--text", "Seven geese flew low.",
            "--text-prompt", PROMPT_TEXT, "--audio-prompt", str(prompt_wav), "--output", str(out),
            "--max-len-ratio", "1", *extra]


def test_rerank_keeps_the_best_scored_candidate(nano_checkpoints, prompt_wav, tmp_path):
    mode = "both"
    out = tmp_path / "best.wav"
    assert main(_argv(nano_checkpoints, prompt_wav, out, "--best-of", "3", "--rerank", mode, "--seed", "7",
                      "--top-k", "50")) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    cands = meta["rerank"]["candidates"]
    assert meta["rerank"]["mode"] == mode and [c["seed"] for c in cands] == [7, 8, 9]
    assert all("wer" in c and "similarity" in c and "hypothesis" in c for c in cands)
    chosen = [c for c in cands if c["chosen"]]
    assert len(chosen) == 1 and chosen[0]["score"] == max(c["score"] for c in cands)
    # the written wav is that candidate: the same seed alone reproduces it sample for sample
    again = tmp_path / "again.wav"
    assert main(_argv(nano_checkpoints, prompt_wav, again, "--seed", str(chosen[0]["seed"]), "--top-k", "50")) == 0
    assert np.array_equal(sf.read(str(out))[0], sf.read(str(again))[0])


def test_rerank_asr_refuses_a_language_it_cannot_hear(nano_checkpoints, prompt_wav, tmp_path):
    with pytest.raises(SystemExit, match="does not recognise --language fr.*--rerank similarity"):
        main(_argv(nano_checkpoints, prompt_wav, tmp_path / "x.wav", "--best-of", "2", "--rerank", "asr",
                   "--language", "fr"))
