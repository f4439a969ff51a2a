"""The progress line's ETA: the nearer of the step/epoch limit and the --max-cpu-seconds budget."""
from __future__ import annotations

import logging
import re
import time
from types import SimpleNamespace

from valle.train.monitor import Monitor


def _eta_seconds(caplog) -> int:
    line = [r.getMessage() for r in caplog.records if "ETA" in r.getMessage()][-1]
    h, m, s = re.search(r"ETA ~(\d+):(\d+):(\d+)", line).groups()
    return int(h) * 3600 + int(m) * 60 + int(s)


def _monitor(tmp_path, **args):
    a = SimpleNamespace(max_duration=20.0, accumulate_grad_steps=1, tensorboard=False, log_interval=1,
                        max_steps=0, num_epochs=100000, max_cpu_seconds=0, **args)
    return Monitor(tmp_path, a, True, [SimpleNamespace(duration=2.0)] * 100, 1)


def _busy(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_cpu_budget_bounds_the_eta_of_an_endless_epoch_count(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="valle.train.monitor")
    rec = {"loss": 1.0, "lr": 0.05, "grad_norm": 1.0, "frames": 100, "frames_per_s": 100.0}
    for budget in (0, 30):
        m = _monitor(tmp_path)
        m.args.max_cpu_seconds = budget
        m.start_step = 0
        _busy(0.2)
        m.window = [dict(rec)]
        m._progress(1, 1)
        if budget:
            assert 0 < _eta_seconds(caplog) < 3600  # (budget - CPU spent) x wall per CPU second: minutes, not years
        else:
            assert _eta_seconds(caplog) > 24 * 3600  # 100,000 epochs: the epoch count is the only limit
