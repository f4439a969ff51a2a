"""Fine-tuning and synthesis cases of issues 18/19: a NAR trained on an untrained AR, prompts
that lose their transcript, prompt options out of range, model options that contradict a file."""
from __future__ import annotations

import logging

import pytest

from robust_helpers import espeak
from robust_train_data import make_train_dir, train_args
from cli_exit import exit_message
from valle.bin.infer import main as infer_main
from valle.bin.train import main as train_main
from valle.infer.model_loading import load_synthesis_model

PROMPT_TEXT = "Seven geese flew low over the frozen lake at dawn."


def _infer(tmp_path, *extra):
    return ["--checkpoint", str(tmp_path / "none.pt"), "--codec", "encodec:random", "--text", "Hello there.",
            "--output", str(tmp_path / "out.wav"), *extra]


def test_stage2_on_an_untrained_ar_warns_and_synthesis_refuses_it(tmp_path, caplog):
    data = make_train_dir(tmp_path)
    exp = tmp_path / "exp"
    with caplog.at_level(logging.WARNING):
        train_main(train_args(data, exp, "--train-stage", "2", "--max-steps", "1"))
    assert "--train-stage 2 on a model whose AR was never trained" in caplog.text
    ckpt = exp / "best-valid-loss.pt"
    msg = exit_message(infer_main, ["--checkpoint", str(ckpt), "--codec", "encodec:random", "--text", "a", "--output",
                  str(tmp_path / "o.wav")])
    assert str(ckpt) in msg and "AR half was never trained" in msg and "--allow-untrained" in msg
    assert not (tmp_path / "o.wav").exists()
    loaded = load_synthesis_model(checkpoint=ckpt, allow_untrained=True)  # told otherwise: it loads
    assert loaded.sources == {"ar": str(ckpt), "nar": str(ckpt)}


def test_prompt_longer_than_prompt_seconds_is_refused_not_cut_from_its_transcript(tmp_path):
    prompt = espeak(PROMPT_TEXT, tmp_path / "prompt.wav", speed=120)
    msg = exit_message(infer_main, _infer(tmp_path, "--audio-prompt", str(prompt), "--text-prompt", PROMPT_TEXT,
                        "--prompt-seconds", "1"))
    assert str(prompt) in msg and "longer than --prompt-seconds 1" in msg and "transcript" in msg
    assert not (tmp_path / "out.wav").exists()


def test_negative_prompt_seconds_is_refused(tmp_path):
    msg = exit_message(infer_main, _infer(tmp_path, "--prompt-seconds", "-1"))
    assert "--prompt-seconds must be >= 0" in msg


def test_audio_prompt_without_text_prompt_is_refused(tmp_path):
    prompt = espeak(PROMPT_TEXT, tmp_path / "prompt.wav")
    msg = exit_message(infer_main, _infer(tmp_path, "--audio-prompt", str(prompt)))
    assert "--text-prompt is empty" in msg and str(prompt) in msg
    tsv = tmp_path / "list.tsv"
    tsv.write_text(f"\t{prompt}\tHello.\tx.wav\n")
    msg = exit_message(infer_main, ["--checkpoint", str(tmp_path / "none.pt"), "--tsv", str(tsv)])
    assert "--tsv line 1: the prompt_text column is empty" in msg


def test_model_preset_or_size_contradicting_a_checkpoint_is_refused(tmp_path, caplog):
    data = make_train_dir(tmp_path)
    exp = tmp_path / "exp"
    train_main(train_args(data, exp, "--max-steps", "1"))  # nano: 2 heads, 2 layers
    with pytest.raises(ValueError, match=r"resuming: checkpoint .*--model-preset small \(the file is preset nano\)"):
        train_main(train_args(data, exp, "--max-steps", "2") + ["--model-preset", "small"])
    with pytest.raises(ValueError, match=r"--nhead 4 \(the file has 2\)"):
        train_main(train_args(data, tmp_path / "exp2", "--max-steps", "1", "--nhead", "4",
                              "--init-from", str(exp / "best-valid-loss.pt")))
    # agreeing options are fine, and the architecture is printed
    with caplog.at_level(logging.INFO):
        train_main(train_args(data, tmp_path / "exp3", "--max-steps", "1", "--nhead", "2",
                              "--init-from", str(exp / "best-valid-loss.pt")))
    assert "model nano: d_model 64, 2 heads, 2 layers, FFN 128, 0." in caplog.text
