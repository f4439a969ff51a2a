"""Pool workers remove the temporary files they made (``valle.utils.process.clean_up_at_worker_exit``)."""
from __future__ import annotations

import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor

from valle.text.tokenize_text import SLICE, tokenize_texts
from valle.utils.process import clean_up_at_worker_exit

_HELD = []


def _make_temp_dir(_) -> str:
    """A worker's temporary folder that lives until the process ends (as phonemizer's library copy)."""
    d = tempfile.TemporaryDirectory()
    _HELD.append(d)
    return d.name


def _run_pool(initializer) -> list:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"), initializer=initializer) as pool:
        return list(pool.map(_make_temp_dir, range(4)))


def test_a_worker_removes_its_own_folders_and_leaves_the_parents(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    parent = tempfile.TemporaryDirectory()  # inherited by the forked workers: not theirs to remove
    made = _run_pool(clean_up_at_worker_exit)
    assert len(made) == 4 and all(name.startswith(str(tmp_path)) for name in made)
    assert [p.name for p in tmp_path.iterdir()] == [parent.name.rsplit("/", 1)[-1]]
    parent.cleanup()


def test_without_it_the_workers_folders_stay(tmp_path, monkeypatch):
    """The defect the clean-up fixes: workers end with os._exit, which skips their finalizers."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made = _run_pool(None)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(name.rsplit("/", 1)[-1] for name in made)


def test_stage2_workers_leave_no_libespeak_copies(tmp_path, monkeypatch):
    """phonemizer copies libespeak-ng into a temporary folder per backend; stage 2 with 2 workers left
    six of them per run before."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    texts = [f"place blue at {c} {i} now" for i, c in enumerate("abcdefgh" * (SLICE // 4 + 1))]
    out = tokenize_texts("espeak", "en-us", texts, ["en-us"] * len(texts), nj=2)
    assert len(out) == len(texts) and all(r["tokens"] for r in out)
    assert list(tmp_path.iterdir()) == []
