"""bench/learn.py's budget split: the AR and the NAR trained apart share each CPU budget."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "learn.py"


def _learn():
    spec = importlib.util.spec_from_file_location("bench_learn", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_budget_split_between_the_stages_adds_up_and_zero_means_one_joint_model():
    learn = _learn()
    assert learn.stage_budgets(1200, 0.2) == [(1, 240.0), (2, 960.0)]  # AR alone, then NAR alone
    ar, nar = learn.stage_budgets(300, 0.35)
    assert ar[0] == 1 and nar[0] == 2 and ar[1] + nar[1] == pytest.approx(300)
    assert learn.stage_budgets(600, 0) == [(0, 600)]  # AR+NAR together (--train-stage 0)
    assert {learn.STAGE_NAMES[s] for s, _ in learn.stage_budgets(60, 0.5)} == {"ar", "nar"}  # one exp dir each
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="--ar-fraction"):
            learn.stage_budgets(60, bad)


def test_a_rerun_scores_each_budget_with_the_checkpoint_it_had_then(tmp_path):
    """A rerun trains nothing for budgets already reached and returns each one's own checkpoint
    (before, every budget of a rerun got the newest model); a budget it passed without a record
    stops with the fix instead of scoring the wrong model."""
    import json

    learn = _learn()
    exp = tmp_path / "ar"
    exp.mkdir()
    (exp / learn.SPENT_FILE).write_text(json.dumps(
        {"cpu_seconds": 400.5, "checkpoints": {"120": ["checkpoint-508.pt", 120.2], "240": ["checkpoint-986.pt", 240.1],
                                               "400": ["checkpoint-1667.pt", 400.5]}}))
    assert learn.train_stage(exp, 1, 120.0, None) == (str(exp / "checkpoint-508.pt"), 120.2)
    assert learn.train_stage(exp, 1, 400.0, None) == (str(exp / "checkpoint-1667.pt"), 400.5)
    with pytest.raises(SystemExit, match="past the budget of 300.*new --work-dir"):
        learn.train_stage(exp, 1, 300.0, None)
