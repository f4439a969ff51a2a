"""A nano model memorises a few utterances: the whole training path learns (AR top-10 acc >= 0.9)."""
from __future__ import annotations

import json

from synthetic_corpus import base_args, make_data_dir
from valle.bin.train import main


def test_overfit_few_utterances(tmp_path):
    data = make_data_dir(tmp_path, num_train=4, repeat=15, dev_is_train=True, min_frames=20, max_frames=40)
    exp = tmp_path / "exp"
    main(base_args(data, exp, "--train-stage", "1", "--num-epochs", "5", "--max-duration", "2.5",
                         "--base-lr", "0.05", "--valid-interval", "0", "--save-every-n", "0",
                         "--num-buckets", "2", "--max-steps", "60"))
    steps = [json.loads(l) for l in (exp / "steps.jsonl").read_text().splitlines()]
    assert steps[0]["ar_top10_acc"] < 0.3
    assert max(s["step"] for s in steps) == 60
    assert "nar_loss" not in steps[-1]  # stage 1 trains the AR only
    last = steps[-10:]
    assert sum(s["ar_top10_acc"] for s in last) / len(last) >= 0.9, last
