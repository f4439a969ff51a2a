"""Synthesis with bad or extreme input: empty text, a 2,000-character text, a prompt under a
second, a silent prompt, a language espeak-ng has no voice for (nano checkpoint, random Encodec)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from robust_helpers import espeak
from valle.bin.infer import main as infer_main

SENTENCES = ["The kettle began to sing just as the rain reached the window.",
             "Please put the green folder on the second shelf, next to the old radio.",
             "Seven geese flew low over the frozen lake at dawn.",
             "Could you read the last line of the letter again, slowly this time?"]


def long_text(chars: int = 2000) -> str:
    out, i = [], 0
    while len(" ".join(out)) < chars:
        out.append(SENTENCES[i % len(SENTENCES)])
        i += 1
    return " ".join(out)[:chars].rsplit(" ", 1)[0] + "."


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained nano AR+NAR checkpoint whose symbol table covers the test texts."""
    import torch

    from valle.models import VALLE, get_preset
    from valle.text.symbol_table import SymbolTable
    from valle.text.tokenizer import get_text_tokenizer
    from valle.train.checkpoint import save_checkpoint

    tok = get_text_tokenizer("espeak", "en-us")
    table = SymbolTable.for_corpus([t for tt in tok.batch(SENTENCES + ["Hi there."]) for t in tt.tokens])
    torch.manual_seed(0)
    config = get_preset("nano", text_vocab_size=len(table))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "nano.pt", model=VALLE(config).state_dict(),
                           model_config=config.to_dict(), text_symbols=table.symbols, train_stage=0)


def _argv(checkpoint, out, text, *extra):
    return ["--checkpoint", str(checkpoint), "--codec", "encodec:random", "--text", text, "--output", str(out),
            "--max-len-ratio", "0.1", "--log-level", "warning", *extra]


def _fails(argv) -> str:
    with pytest.raises(SystemExit) as e:
        infer_main(argv)
    assert e.value.code not in (0, None)
    return str(e.value.code)


def _result(out):
    wav, sr = sf.read(str(out), always_2d=True)
    return wav, json.loads(out.with_suffix(".json").read_text())


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_refused(checkpoint, tmp_path, text):
    msg = _fails(_argv(checkpoint, tmp_path / "o.wav", text))
    assert "empty --text" in msg
    assert not (tmp_path / "o.wav").exists()


def test_2000_character_text_is_split_into_sentences(checkpoint, tmp_path):
    text = long_text()
    assert len(text) >= 1900
    out = tmp_path / "long.wav"
    assert infer_main(_argv(checkpoint, out, text, "--max-len-ratio", "0.05")) == 0
    wav, meta = _result(out)
    assert len(meta["chunks"]) >= 10 and all(len(c) <= 200 for c in meta["chunks"])
    assert " ".join(meta["chunks"]) == text, "no text is lost or repeated by the split"
    assert len(meta["chunk_frames"]) == len(meta["chunks"]) and all(f > 0 for f in meta["chunk_frames"])
    assert wav.shape[0] == 320 * meta["generated_frames"] and np.isfinite(wav).all()


def test_prompt_shorter_than_one_second_is_used(checkpoint, tmp_path):
    prompt = espeak("Hi there.", tmp_path / "short prompt.wav", speed=300)
    info = sf.info(str(prompt))
    assert info.duration < 1.0
    out = tmp_path / "o.wav"
    assert infer_main(_argv(checkpoint, out, SENTENCES[2], "--audio-prompt", str(prompt),
                            "--text-prompt", "Hi there.")) == 0
    wav, meta = _result(out)
    assert meta["prompt_frames"] == math.ceil(info.duration * 24000 / 320)
    assert meta["generated_frames"] > 0 and np.isfinite(wav).all()


def test_silent_prompt_is_used(checkpoint, tmp_path):
    prompt = tmp_path / "silence.wav"
    sf.write(str(prompt), np.zeros(2 * 16000, dtype="float32"), 16000)
    out = tmp_path / "o.wav"
    assert infer_main(_argv(checkpoint, out, SENTENCES[0], "--audio-prompt", str(prompt),
                            "--text-prompt", "Hi there.")) == 0
    wav, meta = _result(out)
    assert meta["prompt_frames"] == 150 and meta["generated_frames"] > 0 and np.isfinite(wav).all()


def test_language_without_espeak_voice_is_refused(checkpoint, tmp_path):
    msg = _fails(_argv(checkpoint, tmp_path / "o.wav", SENTENCES[0], "--language", "tlh"))
    assert "'tlh'" in msg and "--language" in msg and "espeak-ng" in msg
    msg = _fails(_argv(checkpoint, tmp_path / "o.wav", SENTENCES[0], "--text-prompt", "Hi there.",
                       "--prompt-language", "zz"))
    assert "'zz'" in msg and "--prompt-language" in msg
    assert not (tmp_path / "o.wav").exists()


def test_six_channel_48khz_prompt_is_cut_in_time_and_downmixed(checkpoint, tmp_path):
    """A [samples, channels] read cut or averaged along the wrong axis would give other frames."""
    import torch

    from robust_helpers import six_channel_mix
    from valle.codec.encodec_model import encode_audio
    from valle.infer.synthesizer import Synthesizer

    from robust_helpers import convert

    raw = espeak(" ".join(SENTENCES[:2]), tmp_path / "mono.wav", speed=150)
    mono, sr = sf.read(str(convert(raw, tmp_path / "mono48k.wav", rate=48000)), dtype="float32")
    assert sr == 48000 and len(mono) / sr > 3.0
    path = tmp_path / "six channel prompt.wav"
    sf.write(str(path), six_channel_mix(mono), sr, subtype="FLOAT")
    synth = Synthesizer.from_checkpoints(checkpoint=checkpoint, codec="encodec:random")
    codes = synth.prompt_codes(path, max_seconds=2.0)
    assert codes.shape == (150, 8)
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    expected = encode_audio(synth.codec, torch.from_numpy(data[: 2 * sr].T.copy()), sr)
    assert torch.equal(codes, expected)
