"""Bad input stops before training with a message that names the file or option and the fix."""
from __future__ import annotations

import pytest
import torch
import yaml

from synthetic_corpus import base_args
from valle.bin.train import main


def test_missing_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"--train-cuts .*cuts_train\.jsonl\.gz.*prepare\.sh"):
        main(base_args(tmp_path / "nowhere", tmp_path / "exp"))


def test_old_data_dir_spelling_is_refused_naming_tokenized_dir(capsys):
    """valle.bin.train and make_voice called the tokenized folder --data-dir, run.sh and prepare.sh
    call their output folder (one level up) so: the old spelling now fails naming the new one."""
    from valle.bin import make_voice

    for entry in (main, make_voice.main):
        with pytest.raises(SystemExit) as e:
            entry(["--data-dir", "data/tokenized"])
        assert e.value.code == 2
        assert "--data-dir was renamed here: pass --tokenized-dir DIR" in capsys.readouterr().err


def test_empty_after_duration_filter(data_dir, tmp_path):
    with pytest.raises(ValueError, match=r"no cut left after the duration filter.*--filter-min-duration"):
        main(base_args(data_dir, tmp_path / "exp", "--filter-min-duration", "30", "--filter-max-duration", "40"))


def test_unknown_preset(data_dir, tmp_path):
    with pytest.raises(ValueError, match=r"--model-preset 'tiny' is unknown.*nano"):
        main(base_args(data_dir, tmp_path / "exp") + ["--model-preset", "tiny"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu(data_dir, tmp_path):
    with pytest.raises(ValueError, match=r"--device cuda.*no GPU.*--device cpu"):
        main(base_args(data_dir, tmp_path / "exp") + ["--device", "cuda"])


def test_bad_trainable_glob(data_dir, tmp_path):
    with pytest.raises(ValueError, match=r"--trainable 'ar_predict_layre\*' matches no parameter"):
        main(base_args(data_dir, tmp_path / "exp", "--trainable", "ar_predict_layre*"))


def test_config_yaml_defaults_cli_overrides_and_saved_command(data_dir, tmp_path):
    cfg = tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump({"max-steps": 1, "base_lr": 0.01, "train-stage": 1, "save-every-n": 0}))
    exp = tmp_path / "exp"
    main(base_args(data_dir, exp, "--config", str(cfg), "--base-lr", "0.02"))
    saved = yaml.safe_load((exp / "config.yaml").read_text())
    assert saved["base-lr"] == 0.02 and saved["max-steps"] == 1 and saved["train-stage"] == 1
    command = (exp / "command.sh").read_text()
    assert "--base-lr 0.02" in command and "--train-stage 1" in command and "--config" not in command
    bad = tmp_path / "bad.yaml"
    bad.write_text("max-stpes: 3\n")
    with pytest.raises(SystemExit):
        main(["--config", str(bad)])


def test_nan_batches_are_skipped_then_training_stops(data_dir, tmp_path, caplog):
    good = tmp_path / "good"
    main(base_args(data_dir, good, "--max-steps", "1", "--save-every-n", "0", "--train-stage", "1"))
    ckpt = torch.load(good / "checkpoint-1.pt", weights_only=True)
    ckpt["model"]["ar_predict_layer.weight"][0, 0] = float("nan")  # a corrupted weight: every loss is NaN
    bad = tmp_path / "nan.pt"
    torch.save(ckpt, bad)
    from valle.train.trainer import TrainingStopped

    with pytest.raises(TrainingStopped, match=r"3 inf/NaN batches in a row.*--max-bad-batches"):
        main(base_args(data_dir, tmp_path / "exp", "--init-from", str(bad), "--max-bad-batches", "3",
                       "--train-stage", "1"))
    assert "inf/NaN loss on cuts ['train-" in caplog.text and "batch skipped (1 in a row)" in caplog.text
    assert not (tmp_path / "exp" / "steps.jsonl").is_file() or not (tmp_path / "exp" / "steps.jsonl").read_text()
