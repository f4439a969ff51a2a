"""The one stage-stamp protocol (valle.utils.stage_stamp): skip when current, say why when not,
never vouch for half-written outputs, and read the stamps of earlier releases."""
from __future__ import annotations

import json

from valle.utils.stage_stamp import StageStamp

PARAMS = {"prefix": "toy", "inputs": "abc", "sizes": [1, 2]}


def test_same_parameters_skip_and_any_change_says_why(tmp_path):
    out = tmp_path / "a.txt"
    out.write_text("a")
    stamp = StageStamp(tmp_path, "stage9_toy")
    assert stamp.path.name == ".stage9_toy.stamp.json"
    assert stamp.stale_reason(PARAMS, [out]) == "no stamp from an earlier complete run"
    stamp.write(PARAMS)
    assert stamp.stale_reason(PARAMS, [out]) == ""
    assert stamp.stale_reason({**PARAMS, "inputs": "abd"}, [out]) == "parameters or inputs changed"
    out.unlink()
    assert stamp.stale_reason(PARAMS, [out]) == f"output {out} is missing"
    stamp.clear()
    assert not stamp.path.exists()


def test_a_replaced_shared_output_is_stale(tmp_path):
    table = tmp_path / "table.txt"
    table.write_text("one corpus")
    stamp = StageStamp(tmp_path, "stage9_toy")
    stamp.write(PARAMS, digested=[table])
    assert stamp.stale_reason(PARAMS, digested=[table]) == ""
    table.write_text("another corpus")
    assert stamp.stale_reason(PARAMS, digested=[table]) == "an output changed since (another corpus's run replaced it?)"


def test_a_current_legacy_stamp_is_read_and_replaced(tmp_path):
    out = tmp_path / "a.txt"
    out.write_text("a")
    legacy = tmp_path / ".stage9_toy.params.json"
    legacy.write_text(json.dumps(PARAMS))  # earlier releases stored the bare parameters
    stamp = StageStamp(tmp_path, "stage9_toy", legacy=[legacy])
    assert stamp.stale_reason(PARAMS, [out]) == ""
    assert not legacy.exists() and json.loads(stamp.path.read_text())["params"] == PARAMS
    assert stamp.stale_reason(PARAMS, [out]) == ""


def test_a_legacy_stamp_for_other_parameters_redoes_and_clear_removes_it(tmp_path):
    legacy = tmp_path / "params.json"
    legacy.write_text(json.dumps({**PARAMS, "inputs": "old"}))
    stamp = StageStamp(tmp_path, "chunks", legacy=[legacy])
    assert stamp.stale_reason(PARAMS) == "parameters or inputs changed"
    assert legacy.exists()  # a stale check changes nothing on disk
    stamp.clear()
    assert not legacy.exists()
    # an unreadable stamp (a torn write from a tool other than ours) is no stamp
    stamp.path.write_text("{not json")
    assert stamp.stale_reason(PARAMS) == "no stamp from an earlier complete run"


def test_a_stamp_from_before_its_outputs_were_digested_is_current_and_gains_the_digests(tmp_path):
    """Stages 1 and 4 began digesting their unprefixed outputs later: a stamp with the same parameters and no
    digests yet is accepted once (no needless redo after upgrading) and rewritten with them."""
    table = tmp_path / "table.txt"
    table.write_text("one corpus")
    stamp = StageStamp(tmp_path, "stage9_toy")
    stamp.write(PARAMS)  # what the earlier release wrote: {"params": ..., "outputs": {}}
    assert stamp.stale_reason(PARAMS, digested=[table]) == ""
    assert json.loads(stamp.path.read_text())["outputs"] == {"table.txt": stamp._record(PARAMS, [table])["outputs"]["table.txt"]}
    table.write_text("another corpus")  # from now on a replaced output is noticed
    assert stamp.stale_reason(PARAMS, digested=[table]) == "an output changed since (another corpus's run replaced it?)"
    assert stamp.stale_reason({**PARAMS, "inputs": "x"}, digested=[table]) == "parameters or inputs changed"
