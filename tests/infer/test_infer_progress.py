"""Long texts are synthesized chunk by chunk; each chunk reports its progress."""
from __future__ import annotations

import logging

from valle.bin.infer import main


def test_long_text_synthesis_logs_progress_per_chunk(nano_checkpoints, tmp_path, caplog):
    text = "Please put the green folder on the second shelf. Hello there, how are you today? The end."
    with caplog.at_level(logging.INFO):
        assert main(["--checkpoint", str(nano_checkpoints["both"]), "--codec", "encodec:random", "--text", text,
                     "--max-sentence-chars", "40", "--max-len-ratio", "0.2", "--output", str(tmp_path / "o.wav")]) == 0
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("chunk ")]
    assert [l.split(":")[0] for l in lines] == ["chunk 1/2", "chunk 2/2"]
    assert all("s of audio" in l and "s elapsed" in l for l in lines)
