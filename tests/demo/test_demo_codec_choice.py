"""The demo's codec choice: a forced codec2 mode is checked, recorded and printed for prepare.sh."""
from __future__ import annotations

import json

import pytest

from valle.demo import codec_choice


def test_a_forced_codec2_mode_is_recorded_and_printed(tmp_path, capsys):
    record = tmp_path / "codec.json"
    assert codec_choice.main(["--record", str(record), "--codec", "codec2:1200"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "codec2:1200" and "DEMO CODEC: codec2:1200" in out.err
    assert json.loads(record.read_text()) == {"codec": "codec2:1200", "random": False, "reason": "given with --codec"}
    assert codec_choice.main(["--record", str(record)]) == 0  # a rerun keeps the recorded choice
    assert capsys.readouterr().out.strip() == "codec2:1200"


def test_an_unknown_codec2_mode_is_refused_naming_the_modes(tmp_path):
    with pytest.raises(SystemExit, match="codec2:700: codec2 takes a mode, not weights: codec2 \\(3200\\) or codec2:1200"):
        codec_choice.main(["--record", str(tmp_path / "c.json"), "--codec", "codec2:700"])
