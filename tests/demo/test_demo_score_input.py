"""valle.demo.score reads its wavs with valle.eval.audio.read_audio: bad input is one error line."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf


def test_demo_score_names_a_missing_or_broken_wav(tmp_path):
    from valle.demo.score import main

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not audio")
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, np.float32), 8000)
    cases = ((tmp_path / "absent.wav", empty, "--wav"), (empty, broken, "cannot read --reference-wav"),
             (empty, empty, "--reference-wav"))
    for wav, ref, words in cases:
        with pytest.raises(SystemExit) as e:
            main(["--wav", str(wav), "--text", "one two", "--reference-wav", str(ref)])
        msg = str(e.value)
        assert msg.startswith("error: ") and words in msg and "\n" not in msg
