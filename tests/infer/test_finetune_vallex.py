"""The fine-tune recipe of egs/custom/README.md, end to end on real components.

tests/assets/reference/vallex_small.pt (the published VALL-E X layout at d 256 / 2 layers) is
fine-tuned on tests/assets/samples prepared with ``egs/custom/prepare.sh --text-tokenizer vallex
--language en``: the AR with ``egs/custom/conf/finetune_ar.yaml``, then the NAR with
``finetune_nar.yaml`` from the AR result, a few steps each.  Checks: only the configured
parameters move, the result loads back strictly, and valle.bin.infer synthesizes from it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import soundfile as sf
import torch

from valle.bin.infer import main as infer_main
from valle.bin.train import main as train_main
from valle.models import VALLE
from valle.models.checkpoint_import import read_checkpoint
from valle.train.checkpoint import list_checkpoints

VALLEX_SMALL = ["--d-model", "256", "--nhead", "4", "--num-layers", "2"]


def _corpus(samples_dir: Path, out: Path) -> Path:
    """The three real utterances of tests/assets/samples in the pairs layout (audio + same-stem .txt)."""
    spk = out / "reader"
    spk.mkdir(parents=True)
    for line in (samples_dir / "ljspeech-mini" / "metadata.csv").read_text().splitlines():
        utt, _, text = line.split("|")
        shutil.copy(samples_dir / "ljspeech-mini" / "wavs" / f"{utt}.wav", spk / f"{utt}.wav")
        (spk / f"{utt}.txt").write_text(text.capitalize() + ".\n")
    libri = samples_dir / "librispeech-mini"
    for line in (libri / "2412-153948.trans.txt").read_text().splitlines():
        utt, text = line.split(" ", 1)
        shutil.copy(libri / f"{utt}.flac", spk / f"{utt}.flac")
        (spk / f"{utt}.txt").write_text(text.capitalize() + ".\n")
    return out


def _train(repo: Path, data: Path, exp: Path, conf: str, init_from: Path) -> Path:
    train_main(["--config", str(repo / "egs" / "custom" / "conf" / conf), *VALLEX_SMALL,
                "--tokenized-dir", str(data), "--exp-dir", str(exp), "--init-from", str(init_from),
                "--max-steps", "2", "--warmup-steps", "1", "--base-lr", "1e-3", "--num-workers", "0",
                "--tensorboard", "false", "--device", "cpu", "--max-duration", "30",
                "--valid-interval", "1000", "--synthesize-at-valid", "false", "--log-interval", "1"])
    ckpts = list_checkpoints(exp)
    assert ckpts, f"training wrote no checkpoint into {exp}"
    return ckpts[0]


def _changed(before: dict, after: dict, prefix: str) -> list:
    return sorted(k for k in before if k.startswith(prefix) and not torch.equal(before[k], after[k]))


def test_finetune_vallex_small_ar_then_nar_then_synthesize(tmp_path, samples_dir, reference_dir, repo_dir):
    corpus = _corpus(samples_dir, tmp_path / "corpus")
    data = tmp_path / "data"
    r = subprocess.run(["bash", str(repo_dir / "egs" / "custom" / "prepare.sh"), "--corpus-dir", str(corpus),
                        "--data-dir", str(data), "--text-tokenizer", "vallex", "--language", "en",
                        "--codec", "encodec:random", "--dev-size", "1", "--test-size", "0", "--nj", "1"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    tokenized = data / "tokenized"

    published = reference_dir / "vallex_small.pt"
    base = torch.load(published, weights_only=True)["model"]

    # AR fine-tune: only ar_decoder.* and ar_predict_layer* move; embeddings and the NAR stay.
    ar_ckpt = _train(repo_dir, tokenized, tmp_path / "exp_ar", "finetune_ar.yaml", published)
    ar = torch.load(ar_ckpt, weights_only=True)
    assert ar["train_stage"] == 1
    moved = _changed(base, ar["model"], "")
    assert moved and all(k.startswith(("ar_decoder.", "ar_predict_layer")) for k in moved), moved
    assert "ar_predict_layer.weight" in moved

    # NAR fine-tune from the AR result: the fine-tuned AR is kept exactly, nar_decoder moves.
    nar_ckpt = _train(repo_dir, tokenized, tmp_path / "exp_nar", "finetune_nar.yaml", ar_ckpt)
    nar = torch.load(nar_ckpt, weights_only=True)
    assert nar["train_stage"] == 2
    for k, v in ar["model"].items():
        if k.startswith("ar_"):
            assert torch.equal(v, nar["model"][k]), k
    moved = _changed(ar["model"], nar["model"], "")
    assert moved and all(k.startswith(("nar_decoder.", "nar_predict_layers.")) for k in moved), moved
    assert any(k.startswith("nar_decoder.") for k in moved)
    assert torch.equal(nar["model"]["nar_text_embedding.word_embeddings.weight"],
                       base["nar_text_embedding.word_embeddings.weight"])

    # Loads back strictly into the vallex architecture, with the published 70-symbol table.
    config, state, symbols, _ = read_checkpoint(nar_ckpt)
    VALLE(config).load_state_dict(state, strict=True)
    assert config.d_model == 256 and config.num_layers == 2 and config.text_vocab_size == 2048
    assert len(symbols) == 70 and symbols[3] == "[PAD]"

    # Synthesizes with the vallex frontend picked from the table (code-switched prompt language).
    out = tmp_path / "me.wav"
    assert infer_main(["--checkpoint", str(nar_ckpt), "--codec", "encodec:random",
                       "--text", "Something I never said.", "--language", "en",
                       "--text-prompt", "In eighteen thirteen.",
                       "--audio-prompt", str(corpus / "reader" / "LJ002-0020.wav"),
                       "--max-len-ratio", "0.5", "--top-k", "5", "--output", str(out)]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["text_tokenizer"] == "vallex"
    info = sf.info(str(out))
    assert info.samplerate == 24000 and info.channels == 1
    assert info.frames == 320 * meta["generated_frames"]
