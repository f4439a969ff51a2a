"""--init-from (published VALL-E X file, our checkpoints), --trainable/--freeze, stage switching."""
from __future__ import annotations

import logging

import pytest
import torch

from synthetic_corpus import add_tokens, base_args, make_data_dir
from valle.bin.train import main
from valle.train.init_from import published_vallex_symbols

VALLEX_SMALL = ["--model-preset", "vallex", "--d-model", "256", "--nhead", "4", "--num-layers", "2"]


@pytest.fixture
def vallex_data(tmp_path):
    return make_data_dir(tmp_path, num_train=4, num_dev=0, symbols=published_vallex_symbols(),
                         min_frames=20, max_frames=30)


def test_vallex_small_trains_only_ar_predict_layer(vallex_data, tmp_path, reference_dir, caplog):
    caplog.set_level(logging.INFO)
    src = reference_dir / "vallex_small.pt"
    exp = tmp_path / "exp"
    main(base_args(vallex_data, exp, *VALLEX_SMALL, "--init-from", str(src), "--train-stage", "1",
                   "--trainable", "ar_predict_layer*", "--max-steps", "2", "--save-every-n", "0",
                   "--dropout", "0.1"))
    before = torch.load(src, weights_only=True)["model"]
    after = torch.load(exp / "checkpoint-2.pt", weights_only=True)["model"]
    assert set(before) == set(after)
    changed = sorted(k for k in before if not torch.equal(before[k], after[k]))
    assert changed == ["ar_predict_layer.weight"]
    assert "ar_predict_layer" in caplog.text and "262,400" in caplog.text  # 1025 x 256 trainable, logged


def test_init_from_names_symbols_the_checkpoint_lacks(vallex_data, tmp_path, reference_dir):
    add_tokens(vallex_data, ["ʘ", "ǂ"])
    with pytest.raises(ValueError, match=r"lacks 2 symbol\(s\).*ǂ ʘ"):
        main(base_args(vallex_data, tmp_path / "exp", *VALLEX_SMALL,
                       "--init-from", str(reference_dir / "vallex_small.pt")))


def test_stage_switch_keeps_other_half_and_resize_grows_tables(tmp_path):
    data = make_data_dir(tmp_path, num_train=4, num_dev=0, min_frames=20, max_frames=30)
    exp = tmp_path / "exp"
    main(base_args(data, exp, "--train-stage", "1", "--max-steps", "2", "--save-every-n", "0"))
    stage1 = torch.load(exp / "checkpoint-2.pt", weights_only=True)
    main(base_args(data, exp, "--train-stage", "2", "--max-steps", "4", "--save-every-n", "0"))
    stage2 = torch.load(exp / "checkpoint-4.pt", weights_only=True)
    assert stage2["train_stage"] == 2 and stage2["trained_stages"] == [1, 2]
    for k, v in stage1["model"].items():
        if k.startswith("ar_"):
            assert torch.equal(v, stage2["model"][k]), k  # the AR half is kept exactly
        elif k.startswith("nar_decoder."):
            assert not torch.equal(v, stage2["model"][k]), k  # the NAR trains

    add_tokens(data, ["ʘ"])
    grown = tmp_path / "grown"
    with pytest.raises(ValueError, match="ʘ"):
        main(base_args(data, grown, "--init-from", str(exp / "checkpoint-4.pt"), "--max-steps", "1"))
    main(base_args(data, grown, "--init-from", str(exp / "checkpoint-4.pt"), "--init-mismatch", "resize",
                   "--text-vocab-size", "200", "--max-steps", "1", "--train-stage", "2"))
    out = torch.load(grown / "checkpoint-1.pt", weights_only=True)
    assert out["text_symbols"][-1] == "ʘ" and out["model_config"]["text_vocab_size"] == 200
    old = stage2["model"]["ar_text_embedding.word_embeddings.weight"]
    new = out["model"]["ar_text_embedding.word_embeddings.weight"]
    assert new.shape[0] == 200 and torch.equal(new[: old.shape[0]], old)


def test_rerun_at_max_steps_trains_nothing(tmp_path):
    data = make_data_dir(tmp_path, num_train=4, num_dev=0, min_frames=20, max_frames=30)
    exp = tmp_path / "exp"
    args = base_args(data, exp, "--train-stage", "1", "--max-steps", "2", "--save-every-n", "0")
    main(args)
    first = torch.load(exp / "checkpoint-2.pt", weights_only=True)
    main(args)  # resumes from checkpoint-2.pt, already at --max-steps
    assert sorted(p.name for p in exp.glob("checkpoint-*.pt")) == ["checkpoint-2.pt"]
    again = torch.load(exp / "checkpoint-2.pt", weights_only=True)
    assert again["step"] == 2 and all(torch.equal(first["model"][k], again["model"][k]) for k in first["model"])


def test_nar_parallel_on_a_stage_switch_is_taken_and_a_contradicting_resume_refused(tmp_path, capsys):
    """``--train-stage 1`` then ``2 --nar-parallel true`` in one exp dir trains a one-pass NAR (the
    stored config would otherwise win silently); resuming it with ``--nar-parallel false`` is refused,
    and ``--nar-stages-per-step`` beside ``--nar-parallel true`` is refused as it has nothing to choose."""
    data = make_data_dir(tmp_path, num_train=4, num_dev=0, min_frames=20, max_frames=30)
    exp = tmp_path / "exp"
    main(base_args(data, exp, "--train-stage", "1", "--max-steps", "2", "--save-every-n", "0"))
    assert not torch.load(exp / "checkpoint-2.pt", weights_only=True)["model_config"]["nar_parallel"]
    main(base_args(data, exp, "--train-stage", "2", "--nar-parallel", "true", "--share-embedding", "false",
                   "--max-steps", "3", "--save-every-n", "0"))
    assert torch.load(exp / "checkpoint-3.pt", weights_only=True)["model_config"]["nar_parallel"]
    with pytest.raises(ValueError, match=r"nar_parallel=True.*--nar-parallel false contradicts it"):
        main(base_args(data, exp, "--train-stage", "2", "--nar-parallel", "false", "--max-steps", "4"))
    with pytest.raises(SystemExit):
        main(base_args(data, tmp_path / "other", "--nar-parallel", "true", "--nar-stages-per-step", "3"))
    assert "--nar-stages-per-step 3 has nothing to choose with --nar-parallel true" in capsys.readouterr().err
