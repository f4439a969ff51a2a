"""Codec choice robustness: bad codec input names the fix (docs/robustness.md, "Codec")."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from robust_helpers import REPO, espeak

SENTENCES = ["Place the red block now.", "Set the blue cube at four.", "Lay the green ball by two.",
             "Put the white box in nine."]


def _pairs_corpus(root: Path, count: int, low_rate_last: bool = False) -> Path:
    """``count`` espeak-ng utterances in the pairs layout (audio + same-stem .txt); the last one
    resampled to 6 kHz when ``low_rate_last``."""
    for i, text in enumerate(SENTENCES[:count]):
        wav = espeak(text, root / f"u{i}.wav")
        if low_rate_last and i == count - 1:
            subprocess.run(["sox", str(espeak(text, root / "tmp.wav")), "-r", "6000", str(wav)], check=True)
            (root / "tmp.wav").unlink()
        (root / f"u{i}.txt").write_text(text + "\n")
    return root


def _bash(cwd, script, *args, env=None):
    return subprocess.run(["bash", str(REPO / script), *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True)


def test_codec2_stage3_lists_recordings_below_8khz(tmp_path):
    corpus = _pairs_corpus(tmp_path / "corpus", 2, low_rate_last=True)
    r = _bash(tmp_path, "egs/custom/prepare.sh", "--corpus-dir", corpus, "--codec", "codec2", "--nj", "1",
              "--stop-stage", "3")
    assert r.returncode == 1
    assert "1 recordings are sampled below the 8000 Hz that --codec codec2 needs" in r.stderr
    assert "(6000 Hz)" in r.stderr and "--codec encodec" in r.stderr
    assert not list((tmp_path / "data" / "tokenized").glob("*_cuts_*"))


def test_unknown_codec_and_old_codec_options_name_the_fix(tmp_path, capsys):
    from valle.bin.infer import main as infer_main
    from valle.bin.tokenize_audio import main as stage3_main
    from valle.bin.train import main as train_main

    with pytest.raises(SystemExit):
        stage3_main(["--prefix", "x", "--codec", "mp3"])
    assert "unknown codec 'mp3'; choose one of: encodec" in capsys.readouterr().err
    r = _bash(tmp_path, "prepare.sh", "--codec-weights", "random")
    assert r.returncode == 1 and "--codec-weights was replaced: use --codec encodec:PATH" in r.stderr
    for entry, option in ((infer_main, "--codec-weights"), (train_main, "--valid-codec-weights"),
                          (stage3_main, "--codec-weights")):
        with pytest.raises(SystemExit):
            entry([option, "random"])
        err = capsys.readouterr().err
        assert f"{option} was replaced by one codec choice, --codec SPEC, made at prepare.sh --codec" in err


def _nano_checkpoint(path: Path, codec: str) -> Path:
    """An untrained nano model as training would save it on data of ``codec`` (a --codec spec)."""
    from valle.codec import facts_of
    from valle.models import VALLE, get_preset
    from valle.models.config import for_codec
    from valle.train.checkpoint import save_checkpoint

    cfg = for_codec(get_preset("nano"), str(facts_of(codec)["name"]))
    symbols = ["<pad>", "<unk>"] + sorted(set("abcdefghijklmnopqrstuvwxyzəɪʊɛæɑɔʌŋθðʃʒˈˌ.,_"))
    save_checkpoint(path, model=VALLE(cfg).state_dict(), model_config=cfg.to_dict(), text_symbols=symbols,
                    train_stage=0, trained_stages=[0], codec=facts_of(codec))
    return path


def test_synthesis_refuses_the_other_codec_both_ways(tmp_path):
    from valle.bin.infer import main as infer_main

    for trained, other in (("codec2", "encodec:random"), ("encodec:random", "codec2")):
        ckpt = _nano_checkpoint(tmp_path / f"{trained.replace(':', '_')}.pt", trained)
        with pytest.raises(SystemExit) as e:
            infer_main(["--checkpoint", str(ckpt), "--codec", other, "--text", "a", "--output", str(tmp_path / "o.wav")])
        message = str(e.value.code)
        assert "codec mismatch: the checkpoint" in message and f"--codec {trained} for --codec {other}" in message
        assert not (tmp_path / "o.wav").exists()


def test_prompt_codes_of_another_codec_are_refused(tmp_path):
    from valle.codec import CodecError
    from valle.infer.synthesizer import Synthesizer

    synth = Synthesizer.from_checkpoints(checkpoint=_nano_checkpoint(tmp_path / "c2.pt", "codec2"))
    assert synth.codec.name == "codec2"
    encodec_codes = torch.full((40, 8), 1000)
    with pytest.raises(CodecError, match="outside codec2's 0..255.*another codec.*--codec codec2"):
        synth.prompt_codes(encodec_codes)


def test_codec2_prompt_below_8khz_is_refused(tmp_path):
    from valle.bin.infer import main as infer_main

    ckpt = _nano_checkpoint(tmp_path / "c2.pt", "codec2")
    low = tmp_path / "low.wav"
    subprocess.run(["sox", str(espeak("Place the red block now.", tmp_path / "p.wav")), "-r", "6000", str(low)],
                   check=True)
    with pytest.raises(SystemExit) as e:
        infer_main(["--checkpoint", str(ckpt), "--text", "a", "--audio-prompt", str(low), "--text-prompt", "a",
                    "--output", str(tmp_path / "o.wav")])
    assert f"the audio prompt {low} is sampled at 6000 Hz, below the 8000 Hz that --codec codec2 needs" in str(e.value.code)


def test_run_sh_skips_synthesis_when_the_codec_weights_are_gone(tmp_path):
    """Issue 18: data prepared with the published Encodec weights (here: a hub cache holding a seeded
    random state dict), then the weights are gone (offline machine): training succeeds, the
    TensorBoard validation audio is disabled with a warning, and synthesis is skipped with a reason, exit 0."""
    from valle.codec.encodec_model import CHECKPOINT_NAME, load_encodec_model

    hub = tmp_path / "torch" / "hub" / "checkpoints" / CHECKPOINT_NAME
    hub.parent.mkdir(parents=True)
    torch.save(load_encodec_model("random").state_dict(), hub)
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"), "VALLE_DOWNLOAD_TIMEOUT": "2"}

    def bash(script, *args):
        return _bash(tmp_path, script, *args, env=env)

    corpus = _pairs_corpus(tmp_path / "corpus", 4)
    r = bash("egs/custom/prepare.sh", "--corpus-dir", corpus, "--nj", "1", "--dev-size", "1", "--test-size", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((tmp_path / "data" / "tokenized" / "codec.json").read_text())["codec"] == "encodec"
    hub.unlink()
    r = bash("egs/custom/run.sh", "--model-preset", "nano", "--max-steps", "2", "--num-workers", "0",
             "--num-samples", "1", "--avg", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "validation audio disabled" in r.stderr
    assert "skipped: nothing synthesized: Encodec weights are not in the torch hub cache" in r.stderr
    assert "--codec encodec:PATH" in r.stderr
    assert not list((tmp_path / "exp" / "custom" / "samples").glob("*.wav"))
    assert "skipped: no voice made: Encodec weights are not in the torch hub cache" in r.stderr  # nor voices
    ckpt = torch.load(tmp_path / "exp" / "custom" / "averaged.pt", weights_only=True)
    assert ckpt["codec"]["codec"] == "encodec" and not ckpt["codec"]["random_weights"]
