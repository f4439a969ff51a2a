"""Each run limit ends ``train_one_epoch`` with its own StopReason, and ``fit`` acts on it: a limit
(--max-steps, --stop-at-loss, --max-cpu-seconds) writes checkpoint-<step>.pt, an early stop does not."""
from __future__ import annotations

import math

from synthetic_corpus import base_args, make_data_dir
from valle.train.options import parse_args
from valle.train.trainer import StopReason, Trainer


def _fit(data, exp, *extra):
    """(the reason each epoch returned, the trainer) after ``fit``."""
    trainer = Trainer(parse_args(base_args(data, exp, "--save-every-n", "0", "--epoch-checkpoints", "false",
                                           "--valid-interval", "0", "--synthesize-at-valid", "false", "--max-duration", "2",
                                           "--num-epochs", "1", "--train-stage", "1", *extra)))
    reasons, one_epoch = [], trainer.train_one_epoch
    trainer.train_one_epoch = lambda: reasons.append(one_epoch()) or reasons[-1]
    return reasons, trainer


def _written(exp):
    return sorted(p.name for p in exp.glob("*.pt"))


def test_each_limit_returns_its_stop_reason_and_only_limits_save(tmp_path):
    data = make_data_dir(tmp_path, num_train=12, num_dev=2, min_frames=20, max_frames=30)
    reasons, t = _fit(data, tmp_path / "epoch")
    t.fit()  # no limit: the epoch ends when its sampler runs out
    assert reasons == [None] and t.step >= 5 and _written(tmp_path / "epoch") == ["best-valid-loss.pt"]

    for name, extra, reason, step in [
        ("steps", ["--max-steps", "2"], StopReason.MAX_STEPS, 2),
        ("loss", ["--stop-at-loss", "1e6"], StopReason.LOSS_TARGET, 5),  # the mean of 5 steps is always below
        ("cpu", ["--max-cpu-seconds", "1e-9"], StopReason.CPU_BUDGET, 1),
    ]:
        reasons, t = _fit(data, tmp_path / name, *extra)
        t.fit()
        assert (reasons, t.step) == ([reason], step), name
        assert f"checkpoint-{step}.pt" in _written(tmp_path / name), name

    # a validation that cannot beat the best so far (-inf) counts against --early-stop-patience 1
    reasons, t = _fit(data, tmp_path / "early", "--valid-interval", "1", "--early-stop-patience", "1")
    t.best_valid = -math.inf
    t.fit()
    assert (reasons, t.step, t.bad_valids) == ([StopReason.EARLY_STOP], 1, 1)
    assert _written(tmp_path / "early") == [], "an early stop writes no checkpoint of its own"
