"""The data stages' progress bars (valle.utils.progress): drawn on a terminal, nothing in a pipe or log file."""
from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = ("import sys; from pathlib import Path; from valle.data.corpora.custom import probe_all; "
         "infos = probe_all(sorted(Path(sys.argv[1]).rglob('*.wav')), False, 1); print(len(infos), file=sys.stdout)")


def run_probe(folder: Path, stderr_tty: bool, code: str = PROBE):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    if not stderr_tty:
        r = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, env=env,
                           timeout=120)
        return r.returncode, r.stdout, r.stderr
    master, slave = pty.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 0-column pty gets no bar
        r = subprocess.run([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, stderr=slave,
                           text=True, env=env, timeout=120)
        os.close(slave)
        slave = -1
        err = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the pty's other side is closed: all was read
                break
            if not chunk:
                break
            err += chunk
        return r.returncode, r.stdout, err.decode(errors="replace")
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


def test_probing_shows_a_bar_on_a_terminal_only(samples_dir):
    folder = samples_dir / "ljspeech-mini"
    wavs = sorted(folder.rglob("*.wav"))
    assert wavs
    rc, out, err = run_probe(folder, stderr_tty=True)
    assert rc == 0 and out.strip() == str(len(wavs)), err[-2000:]
    assert "stage 1: probing audio" in err and f"{len(wavs)}/{len(wavs)}" in err, err[-2000:]
    rc, out, err = run_probe(folder, stderr_tty=False)
    assert rc == 0 and out.strip() == str(len(wavs)) and "probing audio" not in err, err[-2000:]


# stage 2 over more texts than one slice: the bar counts utterances, and slicing changes no token
TOKENIZE = ("import sys; from valle.text.tokenize_text import SLICE, tokenize_texts; "
            "from valle.text.tokenizer import get_text_tokenizer; "
            "texts = [f'Sentence number {i} is here.' for i in range(SLICE + 44)]; langs = ['en-us'] * len(texts); "
            "got = tokenize_texts('espeak', 'en-us', texts, langs, desc='stage 2: toy'); "
            "whole = get_text_tokenizer('espeak', 'en-us').batch(texts, langs); "
            "assert [r['tokens'] for r in got] == [t.tokens for t in whole]; print(len(got))")


def test_stage2_tokenizing_shows_a_bar_on_a_terminal_only(tmp_path):
    from valle.text.tokenize_text import SLICE

    n = SLICE + 44
    rc, out, err = run_probe(tmp_path, stderr_tty=True, code=TOKENIZE)
    assert rc == 0 and out.strip() == str(n), err[-2000:]
    assert "stage 2: toy" in err and f"{n}/{n}" in err, err[-2000:]
    rc, out, err = run_probe(tmp_path, stderr_tty=False, code=TOKENIZE)
    assert rc == 0 and out.strip() == str(n) and "stage 2" not in err, err[-2000:]
