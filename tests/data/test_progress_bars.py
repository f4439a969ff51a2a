"""Stage 1's audio probing shows a progress bar on a terminal and nothing in a pipe or log file."""
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


def run_probe(folder: Path, stderr_tty: bool):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    if not stderr_tty:
        r = subprocess.run([sys.executable, "-c", PROBE, str(folder)], capture_output=True, text=True, env=env,
                           timeout=120)
        return r.returncode, r.stdout, r.stderr
    master, slave = pty.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 0-column pty gets no bar
        r = subprocess.run([sys.executable, "-c", PROBE, str(folder)], stdout=subprocess.PIPE, stderr=slave,
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
