"""The vallex preset has exactly the published state-dict layout; valle is the lifeiteng layout."""
from __future__ import annotations

import json

import torch

from valle.models import VALLE, get_preset


def build_meta(name, **kw):
    with torch.device("meta"):
        return VALLE(get_preset(name, **kw))


def test_vallex_layout_matches_published(reference_dir):
    layout = json.loads((reference_dir / "vallex_state_dict_layout.json").read_text())
    model = build_meta("vallex")
    sd = model.state_dict(keep_vars=True)
    want = {e["key"]: e for e in layout["keys"]}
    assert list(sd) == [e["key"] for e in layout["keys"]]  # same keys, same order
    for key, p in sd.items():
        assert list(p.shape) == want[key]["shape"], key
        assert str(p.dtype).replace("torch.", "") == want[key]["dtype"], key
        assert p.requires_grad == want[key]["requires_grad"], key
    # ties: every listed group is one parameter, and nothing else is shared
    for group in layout["tied_key_groups"]:
        first = model.get_parameter(group[0])
        assert all(model.get_parameter(k) is first for k in group[1:]), group
    assert sum(p.numel() for p in model.parameters()) == layout["numel_unique_parameters"]
    assert sum(p.numel() for p in sd.values()) == layout["numel_state_dict_incl_tied_duplicates"]


def test_valle_preset_is_the_lifeiteng_layout():
    sd = build_meta("valle").state_dict()
    assert not any("language_embedding" in k for k in sd)
    assert sd["ar_text_embedding.word_embeddings.weight"].shape == (512, 1024)
    assert sd["ar_audio_embedding.word_embeddings.weight"].shape == (1025, 1024)
    assert sd["nar_audio_embeddings.0.word_embeddings.weight"].shape == (1025, 1024)
    assert len(sd) == 374 - 2


def test_no_share_embedding_unties_and_scale_factor_shrinks_nar():
    m = build_meta("nano", share_embedding=False, nar_scale_factor=0.5)
    assert m.nar_predict_layers[0].weight is not m.nar_audio_embeddings[2].word_embeddings.weight
    assert m.nar_decoder.layers[0].linear1.weight.shape == (64, 32)
    assert m.ar_decoder.layers[0].linear1.weight.shape == (128, 64)


def test_config_round_trip_and_bad_values():
    import pytest

    cfg = get_preset("vallex", d_model=256, nhead=4, num_layers=2)
    assert cfg.dim_feedforward == 1024
    assert type(cfg).from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="divisible"):
        get_preset("nano", nhead=3)
    with pytest.raises(ValueError, match="unknown model preset"):
        get_preset("huge")
    with pytest.raises(ValueError, match="unknown ModelConfig fields"):
        type(cfg).from_dict({**cfg.to_dict(), "bogus": 1})
