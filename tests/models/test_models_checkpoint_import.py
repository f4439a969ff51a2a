"""read_checkpoint recognises our, the published and lifeiteng checkpoints; resize_embeddings."""
from __future__ import annotations

import pathlib

import pytest
import torch

from valle.models import VALLE, get_preset
from valle.models.checkpoint_import import model_from_checkpoint, read_checkpoint, resize_embeddings
from valle.utils.atomic import atomic_torch_save


def small_model(name="nano", **kw):
    torch.manual_seed(0)
    return VALLE(get_preset(name, **kw))


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_our_format_round_trip(tmp_path):
    model = small_model(prefix_mode=2, dropout=0.05)
    path = tmp_path / "epoch-1.pt"
    atomic_torch_save({"model": model.state_dict(), "model_config": model.config.to_dict(),
                       "text_symbols": ["<pad>", "<unk>", "a"], "train_stage": 1, "step": 10}, path)
    config, sd, symbols, info = read_checkpoint(path)
    assert info["format"] == "valle" and info["train_stage"] == 1 and "step" in info["extra"]
    assert config == model.config and symbols == ["<pad>", "<unk>", "a"]
    loaded, _, _ = model_from_checkpoint(path)
    assert same_weights(loaded, model)
    assert loaded.nar_predict_layers[0].weight is loaded.nar_audio_embeddings[2].word_embeddings.weight
    assert read_checkpoint(path, dropout=0.0)[0].dropout == 0.0


def test_published_format_needs_a_preset_and_infers_sizes(tmp_path):
    model = small_model("vallex", d_model=128, nhead=2, num_layers=3, text_vocab_size=300)
    path = tmp_path / "vallex-checkpoint.pt"
    torch.save({"model": model.state_dict()}, path)
    with pytest.raises(ValueError, match="--model-preset"):
        read_checkpoint(path)
    config, sd, symbols, info = read_checkpoint(path, model_preset="vallex", nhead=2)
    assert info["format"] == "vallex-published" and symbols is None
    assert (config.d_model, config.num_layers, config.text_vocab_size, config.num_languages,
            config.prepend_bos, config.dim_feedforward) == (128, 3, 300, 3, True, 512)
    assert same_weights(model_from_checkpoint(path, "vallex", nhead=2)[0], model)
    # without nhead the preset's head width (64) decides: 128 / 64 = 2 heads
    assert read_checkpoint(path, model_preset="vallex")[0].nhead == 2


def test_lifeiteng_format(tmp_path):
    model = small_model("valle", d_model=96, nhead=3, num_layers=2, prefix_mode=1, text_vocab_size=80)
    path = tmp_path / "lifeiteng-best-valid-loss.pt"
    torch.save({"model": {"module." + k: v for k, v in model.state_dict().items()}, "decoder_dim": 96, "nhead": 3,
                "num_decoder_layers": 2, "norm_first": True, "add_prenet": False, "prefix_mode": 1,
                "share_embedding": True, "nar_scale_factor": 1.0, "prepend_bos": False, "num_quantizers": 8,
                "model_name": "VALL-E", "exp_dir": pathlib.PosixPath("exp/valle"), "optimizer": {}}, path)
    config, sd, symbols, info = read_checkpoint(path)
    assert info["format"] == "lifeiteng"
    assert (config.d_model, config.nhead, config.num_layers, config.text_vocab_size, config.num_languages,
            config.prepend_bos) == (96, 3, 2, 80, 0, False)
    loaded, _, _ = model_from_checkpoint(path)
    assert same_weights(loaded, model)
    torch.save({"model": model.state_dict(), "decoder_dim": 96, "nhead": 3, "num_decoder_layers": 2,
                "add_prenet": True}, path)
    with pytest.raises(ValueError, match="add_prenet"):
        read_checkpoint(path)


def test_broken_files_name_the_file(tmp_path):
    model = small_model()
    good = tmp_path / "good.pt"
    torch.save({"model": model.state_dict(), "model_config": model.config.to_dict()}, good)
    cut = tmp_path / "truncated.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.pt.*truncated or not a PyTorch checkpoint"):
        read_checkpoint(cut)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="notes.pt"):
        read_checkpoint(text)
    other = tmp_path / "other.pt"
    torch.save({"weights": [1, 2]}, other)
    with pytest.raises(ValueError, match="other.pt is not a model checkpoint"):
        read_checkpoint(other)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        read_checkpoint(tmp_path / "missing.pt")


def test_resize_embeddings_keeps_overlapping_rows():
    old = small_model("nano", text_vocab_size=100, num_languages=0, prepend_bos=False)
    new = small_model("nano", text_vocab_size=140, num_languages=3, prepend_bos=True)
    sd, report = resize_embeddings(old.state_dict(), new)
    new.load_state_dict(sd, strict=True)
    changes = {r["key"]: r["change"] for r in report}
    assert changes["ar_text_embedding.word_embeddings.weight"] == "grown"
    assert changes["ar_audio_embedding.word_embeddings.weight"] == "grown"  # + BOS row
    assert changes["ar_language_embedding.word_embeddings.weight"] == "new"
    w_old = old.ar_text_embedding.weight
    assert torch.equal(new.ar_text_embedding.weight[:100], w_old)
    assert torch.equal(new.ar_audio_embedding.weight[:1025], old.ar_audio_embedding.weight)
    assert torch.equal(new.ar_decoder.layers[0].linear1.weight, old.ar_decoder.layers[0].linear1.weight)
    # shrinking keeps the first rows; a width change is refused
    smaller = small_model("nano", text_vocab_size=60, num_languages=0, prepend_bos=False)
    sd2, report2 = resize_embeddings(old.state_dict(), smaller)
    assert torch.equal(sd2["nar_text_embedding.word_embeddings.weight"], old.nar_text_embedding.weight[:60])
    assert {r["change"] for r in report2} == {"shrunk"}
    with pytest.raises(ValueError, match="only the row count"):
        resize_embeddings(old.state_dict(), small_model("nano", d_model=32))
