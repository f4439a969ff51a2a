"""One log format ([file:line] of the logging call) and one error ending for every entry point."""
from __future__ import annotations

import inspect
import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from valle.utils.logging_setup import setup_logging

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) \[([\w.]+\.py):(\d+)\] (.*)$")


def run_module(module, *args):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    env.pop("VALLE_LOG_LEVEL", None)
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=120)


def test_stage_log_line_names_the_file_and_line_that_wrote_it_and_errors_end_in_one_line(tmp_path):
    (tmp_path / "LibriTTS" / "dev-clean").mkdir(parents=True)
    base = ["--stage", "0", "--corpus", "libritts", "--corpus-dir", tmp_path / "LibriTTS"]
    ok = run_module("valle.bin.prepare_manifests", *base, "--parts", "dev-clean")
    assert ok.returncode == 0, ok.stderr[-3000:]
    found = [m for m in map(LINE.match, ok.stderr.splitlines()) if m and "present in" in m.group(4)]
    assert len(found) == 1, ok.stderr[-3000:]
    level, name, lineno, message = found[0].groups()
    assert (level, name) == ("INFO", "prepare_manifests.py") and "LibriTTS parts dev-clean" in message
    source = (REPO / "valle" / "data" / name).read_text().splitlines()  # valle/bin/<name> only parses options
    assert "log.info(" in source[int(lineno) - 1], "the line number points at the logging call"

    bad = run_module("valle.bin.prepare_manifests", *base, "--parts", "test-clean")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr, bad.stderr[-3000:]
    errors = [ln for ln in bad.stderr.splitlines() if "error" in ln.lower()]
    assert errors == [bad.stderr.strip().splitlines()[-1]], bad.stderr[-3000:]
    assert errors[0].startswith("error: stage 0: --corpus-dir ") and "lacks LibriTTS part(s) test-clean" in errors[0]

    usage = run_module("valle.bin.prepare_manifests", "--stage", "7")  # argparse's own refusal keeps its 2
    assert usage.returncode == 2 and usage.stderr.startswith("usage: ") and "error: argument --stage" in usage.stderr


def test_setup_adds_one_handler_however_often_called_and_keeps_a_callers_handlers(capsys, monkeypatch):
    monkeypatch.delenv("VALLE_LOG_LEVEL", raising=False)
    root = logging.getLogger()
    saved, saved_level = root.handlers[:], root.level
    try:
        root.handlers[:] = []
        first = setup_logging()
        assert setup_logging(verbose=True) is first and root.handlers == [first] and root.level == logging.DEBUG
        capsys.readouterr()
        here = inspect.currentframe().f_lineno + 1
        logging.getLogger("valle.anything").debug("a debug line")
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1, lines
        m = LINE.match(lines[0])
        assert m and m.groups() == ("DEBUG", Path(__file__).name, str(here), "a debug line"), lines

        callers = logging.StreamHandler(io.StringIO())
        root.handlers[:] = [callers]
        assert setup_logging() is None and root.handlers == [callers]
        logging.getLogger("valle.anything").info("to the caller")
        assert callers.stream.getvalue() == "to the caller\n" and capsys.readouterr().err == ""
    finally:
        root.handlers[:] = saved
        root.setLevel(saved_level)
