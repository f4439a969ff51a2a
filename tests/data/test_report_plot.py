"""Stage-4 report: the duration plot shows every split, and random codec weights are called out."""
from __future__ import annotations

import json

from valle.data.report import plot_durations, write_report
from valle.data.splits import CutInfo


def test_duration_plot_draws_dev_and_test_bars_side_by_side(tmp_path):
    durations = {"train": [1.0 + 0.1 * i for i in range(40)], "dev": [2.0, 2.05, 3.0], "test": [2.02, 3.01]}
    drawn = plot_durations(durations, tmp_path / "durations.png")
    assert (tmp_path / "durations.png").stat().st_size > 0
    assert set(drawn) == {"train", "dev", "test"}
    for a, b in (("dev", "test"), ("train", "dev"), ("train", "test")):
        for l1, r1 in drawn[a]:
            assert all(r1 <= l2 + 1e-9 or r2 <= l1 + 1e-9 for l2, r2 in drawn[b]), f"{a} bars overlap {b} bars"


def test_report_says_when_codes_came_from_random_codec_weights(tmp_path):
    tok = tmp_path / "tokenized"
    tok.mkdir()
    infos = {"train": [CutInfo("a", "all", 2.0, "spk", ["a"])], "dev": [], "test": []}
    write_report(tok / "report", infos, [], tmp_path, tok)
    assert "RANDOM" not in (tok / "report" / "report.txt").read_text()
    (tok / ".custom_cuts_all.jsonl.gz.stamp.json").write_text(json.dumps({"codec": "encodec:random"}))
    summary = write_report(tok / "report", infos, [], tmp_path, tok)  # data from before codec.json
    text = (tok / "report" / "report.txt").read_text()
    assert "WARNING: codes from RANDOM codec weights (custom_cuts_all)" in text.splitlines()[2]
    assert any("RANDOM codec weights" in n for n in summary["notes"])
    (tok / "codec.json").write_text(json.dumps({"name": "encodec", "random_weights": False}))
    write_report(tok / "report", infos, [], tmp_path, tok)  # codec.json is the record when present
    assert "RANDOM" not in (tok / "report" / "report.txt").read_text()
    (tok / "codec.json").write_text(json.dumps({"name": "encodec", "random_weights": True}))
    write_report(tok / "report", infos, [], tmp_path, tok)
    assert "WARNING: codes from RANDOM codec weights (codec.json)" in (tok / "report" / "report.txt").read_text()
