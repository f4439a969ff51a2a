"""Synthesis with bad or extreme input: empty text, a 2,000-character text, a prompt under a
second, a silent prompt, a language espeak-ng has no voice for, a folder where a file belongs,
--output naming the prompt (nano checkpoint, random Encodec)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from robust_helpers import SENTENCES_TO_SAY as SENTENCES, espeak
from cli_exit import exit_message
from valle.bin.infer import main as infer_main


def long_text(chars: int = 2000) -> str:
    out, i = [], 0
    while len(" ".join(out)) < chars:
        out.append(SENTENCES[i % len(SENTENCES)])
        i += 1
    return " ".join(out)[:chars].rsplit(" ", 1)[0] + "."


def _argv(checkpoint, out, text, *extra):
    return ["--checkpoint", str(checkpoint), "--codec", "encodec:random", "--text", text, "--output", str(out),
            "--max-len-ratio", "0.1", "--log-level", "warning", *extra]


def _result(out):
    wav, sr = sf.read(str(out), always_2d=True)
    return wav, json.loads(out.with_suffix(".json").read_text())


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_refused(checkpoint, tmp_path, text):
    msg = exit_message(infer_main, _argv(checkpoint, tmp_path / "o.wav", text))
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
    msg = exit_message(infer_main, _argv(checkpoint, tmp_path / "o.wav", SENTENCES[0], "--language", "tlh"))
    assert "'tlh'" in msg and "--language" in msg and "espeak-ng" in msg
    msg = exit_message(infer_main, _argv(checkpoint, tmp_path / "o.wav", SENTENCES[0], "--text-prompt", "Hi there.",
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
    expected = encode_audio(synth.codec.model, torch.from_numpy(data[: 2 * sr].T.copy()), sr)
    assert torch.equal(codes, expected)


def test_long_text_is_decoded_one_sentence_chunk_at_a_time(checkpoint):
    """Encodec's decoder never sees more than one chunk's frames, so memory is bounded by a sentence."""
    from valle.infer.synthesizer import SamplingOptions, Synthesizer

    synth = Synthesizer.from_checkpoints(checkpoint=checkpoint, codec="encodec:random")
    calls = []
    synth.codec.model.decoder.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[-1]))
    result = synth.synthesize(long_text(), options=SamplingOptions(max_len_ratio=0.05))
    assert len(result.chunks) >= 10
    assert calls == result.chunk_frames, "one decoder call per sentence chunk, with that chunk's frames"
    assert result.wav.numel() == 320 * result.generated_frames


def test_directory_as_audio_prompt_or_checkpoint_is_named_a_directory(checkpoint, tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    msg = exit_message(infer_main, _argv(checkpoint, tmp_path / "o.wav", SENTENCES[0], "--audio-prompt", str(folder),
                       "--text-prompt", "Hi there."))
    assert f"prompt audio {folder} is a directory, not a file" in msg and "does not exist" not in msg
    import shutil

    shutil.copy(checkpoint, folder / "epoch-3.pt")
    msg = exit_message(infer_main, _argv(folder, tmp_path / "o.wav", SENTENCES[0]))
    assert f"checkpoint {folder} is a directory, not a file (it holds epoch-3.pt)" in msg
    assert not (tmp_path / "o.wav").exists()


def test_output_equal_to_audio_prompt_is_refused_before_overwriting_it(checkpoint, tmp_path):
    prompt = espeak("Hi there.", tmp_path / "my voice.wav")
    before = prompt.read_bytes()
    link = tmp_path / "same file.wav"
    link.symlink_to(prompt)
    for out in (prompt, link):
        msg = exit_message(infer_main, _argv(checkpoint, out, SENTENCES[0], "--audio-prompt", str(prompt), "--text-prompt", "Hi there."))
        assert f"--output {out} is the --audio-prompt file" in msg and "overwrite your recording" in msg
    msg = exit_message(infer_main, _argv(checkpoint, tmp_path / "o.json", SENTENCES[0]))
    assert "ends in .json, the name of its own metadata sidecar" in msg and "line None" not in msg
    assert prompt.read_bytes() == before and not (tmp_path / "my voice.json").exists()
