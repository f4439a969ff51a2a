"""Benchmark of stage 1 on the ``long`` layout: one recording of N minutes with its transcript.

Run through ``bench/prepare.py --long-minutes 10 60``. The recording is espeak-ng sentences (voices
pocketsphinx follows) joined with pauses of 0.3-2 s, written in blocks (16 kHz mono wav) so making
an hour costs no memory. Stage 1 (VAD, segmentation, alignment, manifests) runs in a fresh process;
per length it reports wall and CPU seconds, real-time factors (wall, CPU, and the VAD and alignment
parts from ``long_summary.json``), peak RSS, and segments kept. Flat memory means the 10- and
60-minute peaks are close.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from prepare import CHILD as STAGE3_CHILD

SENTENCES = [
    ("en-us+f2", "The quick brown fox jumps over the lazy dog near the river bank."),
    ("en-us+klatt", "She packed her books and a small lamp into the wooden chest."),
    ("en-us+f2", "Bright sunlight streamed through the tall windows of the old library."),
    ("en-us+klatt", "The committee will meet again next week to discuss the plan."),
    ("en-us+f2", "A journey of a thousand miles begins with a single step."),
    ("en-us+klatt", "He carefully folded the letter and placed it in the drawer."),
]
PAUSES = [0.35, 0.9, 0.5, 1.6, 0.45, 2.0, 0.8]

# bench/prepare.py's child (fresh interpreter, one stage, its own resource usage), running stage 1
CHILD = STAGE3_CHILD.replace("from valle.bin.tokenize_audio import main", "from valle.bin.prepare_manifests import main")


def make_sentences(root: Path):
    import numpy as np
    import soundfile as sf
    import soxr

    out = []
    for k, (voice, text) in enumerate(SENTENCES):
        raw = root / f"s{k}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
        audio, sr = sf.read(str(raw), dtype="float32")
        out.append((soxr.resample(audio, sr, 16000).astype(np.float32), text))
    return out


def write_recording(path: Path, sentences, minutes: float) -> float:
    """Sentences and pauses until ``minutes``; transcript beside it; returns the duration (s)."""
    import numpy as np
    import soundfile as sf

    target, n, i, words = minutes * 60 * 16000, 0, 0, []
    noise = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", samplerate=16000, channels=1, subtype="PCM_16") as f:
        while n < target:
            audio, text = sentences[i % len(sentences)]
            pause = (noise.standard_normal(int(PAUSES[i % len(PAUSES)] * 16000)) * 1e-3).astype(np.float32)
            f.write(pause)
            f.write(audio)
            n += len(pause) + len(audio)
            words.append(text)
            i += 1
    path.with_suffix(".txt").write_text(" ".join(words) + "\n")
    return n / 16000


def bench_long(root: Path, minutes_list, repo: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    sentences = make_sentences(root)
    results = {}
    for minutes in minutes_list:
        corpus = root / f"long{minutes:g}"
        corpus.mkdir(parents=True, exist_ok=True)
        seconds = write_recording(corpus / "book.wav", sentences, minutes)
        out = root / f"out{minutes:g}"
        args = ["--stage", "1", "--corpus", "custom", "--corpus-dir", str(corpus), "--output-dir", str(out),
                "--layout", "long", "--nj", "1"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(repo), os.environ.get("PYTHONPATH")) if p),
                   OMP_NUM_THREADS="1")
        proc = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=repo, env=env, capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"stage 1 failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        run = json.loads(lines[-1][len("BENCH "):])
        summary = json.loads((out / "long_summary.json").read_text())
        cpu = summary["cpu_seconds"]
        results[f"{minutes:g}min"] = {
            "audio_seconds": round(seconds, 1),
            "stage1_wall_s": round(run["wall"], 1),
            "x_realtime_wall": round(seconds / run["wall"], 1),
            "x_realtime_cpu": round(seconds / run["cpu"], 1),
            "vad_x_realtime_cpu": round(seconds / max(cpu["vad"], 1e-9), 1),
            "align_x_realtime_cpu": round(seconds / max(cpu["align_or_transcribe"], 1e-9), 1),
            "vad_plus_align_x_realtime_cpu": round(seconds / max(cpu["vad"] + cpu["align_or_transcribe"], 1e-9), 1),
            "peak_rss_mb": round(max(run["main_rss_mb"], run["worker_rss_mb"]), 1),
            "segments": summary["segments"],
            "kept": summary["kept"],
            "hours_kept_of_in": round(summary["hours_kept"] / summary["hours_in"], 3),
        }
    return results
