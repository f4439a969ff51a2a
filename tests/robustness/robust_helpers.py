"""Shared helpers of the robustness matrix: the odd corpus, running stages, comparing outputs.

The matrix corpus is one folder in the ``pairs`` layout whose name holds spaces, both quote
characters and non-ASCII letters, with one file per bad-input case (see docs/robustness.md).
It is small on purpose: every file is a second or two of espeak-ng speech.
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
FAULT_RUNNER = Path(__file__).with_name("fault_runner.py")
# A folder name that breaks unquoted shell code: spaces, both quotes, a glob and non-ASCII.
ODD_NAME = "my \"odd\" corpus's dír [ä] *"


def sh(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, **kw)


def espeak(text: str, dst: Path, voice: str = "en-us", speed: int = 240) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    sh("espeak-ng", "-v", voice, "-s", speed, "-w", dst, text)
    return dst


def convert(src: Path, dst: Path, rate: Optional[int] = None) -> Path:
    """sox for wav/flac/ogg/mp3, ffmpeg for opus (sox cannot write it)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.suffix == ".opus":
        cmd = ["ffmpeg", "-v", "error", "-y", "-i", src, "-c:a", "libopus"] + (["-ar", rate] if rate else []) + [dst]
        sh(*cmd)
    else:
        sh("sox", src, *(["-r", rate] if rate else []), dst)
    return dst


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# the matrix corpus ------------------------------------------------------------------------------
# file (relative to the corpus) -> what stage 1-4 must do with it
EXPECTED_STAGE1_REJECTS = {
    "spk ä/corrupt.wav": "unreadable_audio",
    "spk ä/truncated.wav": "corrupt_audio",
    "spk ä/empty.wav": "zero_duration",
    "spk ä/dangling link.wav": "unreadable_audio",
    "spk ä/latin1.wav": "unreadable_transcript",
    "dup_x/same.wav": "duplicate_id",
}
EXPECTED_TEXT_REJECTS = {"spk ä/punctuation.wav": "no_text_tokens"}
EXPECTED_KEPT = {
    "spk ä/good one.wav": "spk ä_good one",
    "spk ä/rate8k.wav": "spk ä_rate8k",
    "spk ä/rate48k.wav": "spk ä_rate48k",
    "spk ä/six channels.wav": "spk ä_six channels",
    "fmt.mp3/format.mp3": "fmt.mp3_format",
    "fmt.opus/format.opus": "fmt.opus_format",
    "fmt.flac/format.flac": "fmt.flac_format",
    "fmt.ogg/format.ogg": "fmt.ogg_format",
    "spk ä/emoji.wav": "spk ä_emoji",
    "spk ä/linked.wav": "spk ä_linked",
    "dup/x_same.wav": "dup_x_same",
}
SENTENCES = {
    "good one": "A perfectly ordinary sentence.",
    "rate8k": "Telephone speech at eight kilohertz.",
    "rate48k": "Studio speech at forty eight kilohertz.",
    "six channels": "Six channels of surround sound.",
    "emoji": "Hello 😀 world ☃ and ✈ again.",
    "linked": "This file lives somewhere else.",
    "x_same": "The first file with this name.",
    "same": "The second file with this name.",
    "punctuation": "?! ... -- !!",
    "latin1": "Café déjà vu, a naïve garçon.",
    "truncated": "This copy stopped half way through.",
    "empty": "Nothing at all.",
    "corrupt": "Random bytes.",
}
FORMAT_SENTENCES = {".mp3": "An mp3 file from a phone.", ".opus": "An opus file from a chat app.",
                    ".flac": "A lossless flac file.", ".ogg": "An ogg vorbis file."}


def six_channel_mix(mono: np.ndarray) -> np.ndarray:
    """Six different channels (gains, a silent one, a delayed one, a phase-inverted one)."""
    delayed = np.concatenate([np.zeros(200, mono.dtype), mono[:-200]])
    return np.stack([mono, 0.5 * mono, np.zeros_like(mono), delayed, 0.25 * mono, -0.3 * mono], axis=1)


def build_matrix_corpus(root: Path) -> Path:
    """The odd corpus: ``root/<ODD_NAME>/`` (pairs layout) plus ``root/outside/`` (a symlink target)."""
    import soundfile as sf

    corpus = root / ODD_NAME
    spk = corpus / "spk ä"
    raw = root / "raw"
    for stem in ("good one", "emoji", "punctuation", "latin1"):
        espeak(SENTENCES[stem] if stem != "punctuation" else "Punctuation only.", spk / f"{stem}.wav")
    for stem in ("good one", "emoji", "punctuation"):
        write_text(spk / f"{stem}.txt", SENTENCES[stem])
    (spk / "latin1.txt").write_bytes(SENTENCES["latin1"].encode("latin-1"))
    convert(espeak(SENTENCES["rate8k"], raw / "8k.wav"), spk / "rate8k.wav", rate=8000)
    write_text(spk / "rate8k.txt", SENTENCES["rate8k"])
    convert(espeak(SENTENCES["rate48k"], raw / "48k.wav"), spk / "rate48k.wav", rate=48000)
    write_text(spk / "rate48k.txt", SENTENCES["rate48k"])
    mono, sr = sf.read(str(espeak(SENTENCES["six channels"], raw / "six.wav")), dtype="float32")
    sf.write(str(spk / "six channels.wav"), six_channel_mix(mono), sr, subtype="PCM_16")
    write_text(spk / "six channels.txt", SENTENCES["six channels"])
    # one folder per format (equal stems in one folder would collide as utterance ids)
    for suffix, text in FORMAT_SENTENCES.items():
        fmt_dir = corpus / f"fmt{suffix}"
        convert(espeak(text, raw / f"fmt{suffix}.wav"), fmt_dir / f"format{suffix}")
        write_text(fmt_dir / "format.txt", text)
    # bad audio
    full = espeak(SENTENCES["truncated"], raw / "full.wav")
    (spk / "truncated.wav").write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    write_text(spk / "truncated.txt", SENTENCES["truncated"])
    sf.write(str(spk / "empty.wav"), np.zeros((0,), dtype="float32"), 16000)
    write_text(spk / "empty.txt", SENTENCES["empty"])
    (spk / "corrupt.wav").write_bytes(np.random.default_rng(7).bytes(5000))
    write_text(spk / "corrupt.txt", SENTENCES["corrupt"])
    # symlinks: one to a real file outside the corpus, one dangling
    outside = espeak(SENTENCES["linked"], root / "outside" / "real take.wav")
    os.symlink(outside, spk / "linked.wav")
    write_text(spk / "linked.txt", SENTENCES["linked"])
    os.symlink(root / "outside" / "deleted.wav", spk / "dangling link.wav")
    write_text(spk / "dangling link.txt", "Gone.")
    # two folders whose files map to the same utterance id (dup/x_same and dup_x/same -> dup_x_same)
    espeak(SENTENCES["x_same"], corpus / "dup" / "x_same.wav")
    write_text(corpus / "dup" / "x_same.txt", SENTENCES["x_same"])
    espeak(SENTENCES["same"], corpus / "dup_x" / "same.wav")
    write_text(corpus / "dup_x" / "same.txt", SENTENCES["same"])
    return corpus


def prepare_cmd(corpus: Path, data_dir: Path, *extra: str) -> List[str]:
    return ["bash", str(REPO / "prepare.sh"), "--corpus", "custom", "--corpus-dir", str(corpus),
            "--data-dir", str(data_dir), "--codec", "encodec:random", "--nj", "1",
            "--dev-size", "1", "--test-size", "1", *extra]


# running stages -----------------------------------------------------------------------------
def python_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_module(module: str, args: Sequence[str], *, kill_before_commit: int = 0, match: str = ".*",
               truncate_tmp: bool = False, max_file_bytes: int = 0, as_unprivileged: bool = False,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m module args`` in a subprocess, optionally under a fault (see fault_runner.py)."""
    cmd = [PYTHON, str(FAULT_RUNNER)]
    if kill_before_commit:
        cmd += ["--kill-before-commit", str(kill_before_commit), "--match", match]
    if truncate_tmp:
        cmd += ["--truncate-tmp"]
    if max_file_bytes:
        cmd += ["--max-file-bytes", str(max_file_bytes)]
    cmd += ["--", module, *map(str, args)]
    if as_unprivileged and os.geteuid() == 0:
        # root ignores file permissions; drop the capabilities that let it do so
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=python_env(), timeout=timeout)


def assert_killed(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-3000:])
    assert "fault_runner: SIGKILL before committing" in proc.stderr


# comparing outputs ----------------------------------------------------------------------------
def read_jsonl_gz(path: Path) -> List[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def leftovers(directory: Path) -> List[Path]:
    """Temporary files of interrupted atomic writes below ``directory``."""
    return sorted(p for p in Path(directory).rglob(".tmp-*"))


def copy_tree(src: Path, dst: Path, skip: Sequence[str] = ()) -> Path:
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns(*skip) if skip else None)
    return dst
