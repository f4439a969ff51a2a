"""Throughput of the offline evaluation backends: utterances of ~5 s scored per second on 2 cores.

Prints one JSON object.  The utterances are real speech: pieces of the LibriSpeech sample in
tests/assets and espeak-ng sentences of 4-6 s in several voices, cycled to ``--num``.

- ``backends``: each offline backend alone (pocketsphinx fast and accurate search, resemblyzer,
  DNSMOS P.835 with its overlapping windows' shared convolutions computed once, the default, and
  with each window through the whole model, the reference path; the largest score difference of
  the two on the clips), one thread, after loading it once: process CPU seconds per utterance
  (steady on a machine shared with other jobs), wall seconds, and utterances per second on 2 cores
  projected from the CPU seconds (2 / CPU s per utterance);
- ``scorer_dnsmos_windows_<all|each|N>``: the whole ``Scorer`` (file read, all three metrics, flags) on ``--num`` test
  list entries through ``valle.eval.parallel.score_all`` with ``--jobs`` worker processes: wall
  seconds, the CPU seconds of all processes per utterance, and the goal check, both as measured
  (on this machine, now) and projected for two free cores (CPU seconds / 2 + worker start-up).
  Every entry has its own prompt and reference file, so each utterance costs three speaker
  embeddings (output, prompt, reference), as the first system of an evaluation does; once with
  the official DNSMOS windows (``all``; ``each``: the same windows each run alone, the reference
  path), once with ``--dnsmos-max-windows 1``;
- ``baseline``: ``speechmos.dnsmos.run`` (the package's entry point, P.808 through librosa too).

Goal (issue 12): 100 utterances of ~5 s in under 2 minutes on 2 cores with all three backends.
The JSON records the CPU, its flags and the load average at start and end.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/eval.py --num 100 --jobs 2``
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LIBRISPEECH = REPO / "tests/assets/samples/librispeech-mini"
SENTENCES = [
    "The kettle began to sing just as the rain reached the kitchen window.",
    "Please put the green folder on the second shelf beside the old radio.",
    "Seven geese flew low over the frozen lake before the sun came up.",
    "Could you read the last line of the letter again a little more slowly?",
]
VOICES = ["en-us+m3", "en-us+f4", "en-gb", "en-us+m7"]
GOAL_SECONDS = 120.0


def machine() -> dict:
    model, flags = "unknown", []
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(x.split(":", 1)[1].strip() for x in lines if x.startswith("model name"))
        flags = [f for f in next(x.split(":", 1)[1].split() for x in lines if x.startswith("flags"))
                 if f.startswith(("avx", "amx"))]
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "flags": flags, "cores": os.cpu_count(), "load_average_start": os.getloadavg(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def make_clips(tmp: Path):
    """[(wav path, transcript)]: two ~5 s LibriSpeech pieces (only the first has its words) and
    four espeak-ng sentences."""
    import soundfile as sf

    wav, sr = sf.read(str(LIBRISPEECH / "2412-153948-0000.flac"), dtype="float32")
    text = (LIBRISPEECH / "2412-153948.trans.txt").read_text().split(" ", 1)[1].strip()
    clips = []
    for i, (start, end) in enumerate(((0.0, 5.2), (5.2, 10.4))):
        path = tmp / f"ls{i}.wav"
        sf.write(str(path), wav[int(start * sr):int(end * sr)], sr)
        clips.append((path, text if i == 0 else ""))  # the first piece's WER is nominal (words cut)
    for i, (s, v) in enumerate(zip(SENTENCES, VOICES)):
        path = tmp / f"es{i}.wav"
        subprocess.run(["espeak-ng", "-v", v, "-s", "140", "-w", str(path), s], check=True)
        clips.append((path, s))
    return clips


def cpu_now() -> float:
    """CPU seconds of this process and of its reaped children (the pool's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(fn, items) -> dict:
    start, cpu = time.perf_counter(), time.process_time()
    for x in items:
        fn(x)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    n = len(items)
    return {"utterances": n, "wall_s": round(wall, 2), "cpu_s_per_utterance": round(cpu / n, 3),
            "utterances_per_s_measured": round(n / wall, 2),
            "utterances_per_s_2_cores_projected": round(2 * n / cpu, 2)}


def loaded(build):
    start = time.perf_counter()
    obj = build()
    return obj, round(time.perf_counter() - start, 2)


def bench_backends(audio, num: int, accurate_num: int) -> dict:
    from valle.eval.asr import load_asr
    from valle.eval.dnsmos import DNSMOS
    from valle.eval.speaker import load_speaker

    batch = [audio[i % len(audio)] for i in range(num)]
    out = {}
    for mode, n in (("fast", num), ("accurate", accurate_num)):
        if n:
            asr, load = loaded(lambda m=mode: load_asr(f"pocketsphinx:{m}"))
            out[f"pocketsphinx ({mode})"] = {"load_s": load, **measure(lambda a, r=asr: r.transcribe(*a), batch[:n])}
    spk, load = loaded(lambda: load_speaker("resemblyzer"))
    spk.embed(*audio[0])  # the first call imports librosa and compiles its numba kernels
    out["resemblyzer (one embedding)"] = {"load_s": load, **measure(lambda a: spk.embed(*a), batch)}
    mos, load = loaded(DNSMOS)
    out["dnsmos p835 (official windows)"] = {"load_s": load, **measure(lambda a: mos.score(*a), batch)}
    each, load = loaded(lambda: DNSMOS(share_windows=False))
    out["dnsmos p835 (official windows, each alone)"] = {"load_s": load, **measure(lambda a: each.score(*a), batch)}
    worst = max(abs(mos.score(*a)[k] - each.score(*a)[k]) for a in audio for k in ("sig", "bak", "ovrl"))
    out["dnsmos_shared_vs_each_max_abs_diff"] = worst
    one = DNSMOS(max_windows=1)
    out["dnsmos p835 (max_windows=1)"] = measure(lambda a: one.score(*a), batch)
    return out


def bench_scorer(clips, tmp: Path, num: int, jobs: int, windows: str) -> dict:
    from valle.eval.parallel import score_all
    from valle.eval.testlist import TestItem

    items = []
    for i in range(num):
        path, text = clips[i % len(clips)]
        prompt, ref = tmp / f"prompt{i}.wav", tmp / f"ref{i}.wav"
        shutil.copy(clips[(i + 1) % len(clips)][0], prompt)
        shutil.copy(path, ref)
        items.append(TestItem(f"u{i}", "cross-sentence", "en-us", text or "unknown", str(prompt), "", str(ref)))
    jobs_list = [(item, item.reference_audio, "bench", 5.0) for item in items]
    max_windows = None if windows in ("all", "each") else int(windows)
    kwargs = {"dnsmos_max_windows": max_windows, "dnsmos_share_windows": windows != "each"}
    start, cpu = time.perf_counter(), cpu_now()
    if jobs > 1:  # the workers load their own Scorer: their start-up is in the wall and CPU figures
        records = score_all(None, jobs_list, jobs, kwargs)
    else:
        from valle.eval.scoring import Scorer

        records = score_all(Scorer(**kwargs), jobs_list, 1, kwargs)
    wall, cpu = time.perf_counter() - start, cpu_now() - cpu
    bad = [r for r in records if r["status"] == "failed" or r.get("dnsmos_ovrl") is None or r.get("sim_prompt") is None]
    per_utt = cpu / num
    projected = 100 * per_utt / 2
    return {"utterances": num, "jobs": jobs, "dnsmos_windows": windows, "wall_s": round(wall, 1), "cpu_s_total": round(cpu, 1),
            "cpu_s_per_utterance": round(per_utt, 3), "utterances_per_s_measured": round(num / wall, 2),
            "records_missing_a_metric": len(bad),
            "measured_100_s": round(100 * wall / num, 1),
            "projected_100_s_on_2_free_cores": round(projected, 1),
            "goal": f"100 utterances of ~5 s in < {GOAL_SECONDS:.0f} s on 2 cores",
            "goal_met_measured": 100 * wall / num < GOAL_SECONDS,
            "goal_met_projected": projected < GOAL_SECONDS}


def bench_speechmos(audio, clips: int) -> dict:
    from speechmos import dnsmos as reference

    from valle.eval.audio import resample

    base = [(resample(w, sr, 16000), 16000) for w, sr in audio[:clips]]
    reference.run(*base[0])  # imports librosa, compiles numba kernels
    return {"speechmos.dnsmos.run": measure(lambda a: reference.run(*a), base)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--num", type=int, default=100, help="utterances for the whole-Scorer measurement")
    p.add_argument("--jobs", type=int, default=2, help="worker processes for the whole-Scorer measurement")
    p.add_argument("--dnsmos-max-windows", default="all,1",
                   help="comma-separated: one whole-Scorer run per value (all = the official DNSMOS "
                        "protocol; each = the same windows, each through the whole model; N = at most N windows)")
    p.add_argument("--backend-num", type=int, default=24, help="utterances per single-backend measurement")
    p.add_argument("--accurate-num", type=int, default=6, help="utterances for pocketsphinx:accurate (0 = skip)")
    p.add_argument("--baseline-clips", type=int, default=2, help="clips for speechmos.dnsmos.run (0 = skip)")
    args = p.parse_args(argv)
    import logging

    import soundfile as sf
    import torch

    from valle.eval.dnsmos import windows_per_clip

    logging.disable(logging.WARNING)
    torch.set_num_threads(1)
    report = {"machine": machine()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        clips = make_clips(tmp)
        audio = [sf.read(str(c), dtype="float32") for c, _ in clips]
        seconds = [w.size / sr for w, sr in audio]
        report["clips"] = {"seconds": [round(s, 2) for s in seconds],
                           "dnsmos_windows": windows_per_clip(seconds),
                           "mean_seconds": round(sum(seconds) / len(seconds), 2)}
        report["backends"] = bench_backends(audio, args.backend_num, args.accurate_num)
        print(json.dumps(report), file=sys.stderr, flush=True)  # progress: a killed run keeps its figures
        for value in args.dnsmos_max_windows.split(","):
            report[f"scorer_dnsmos_windows_{value.strip()}"] = bench_scorer(clips, tmp, args.num, args.jobs, value.strip())
            print(json.dumps(report), file=sys.stderr, flush=True)
        if args.baseline_clips:
            report["baseline"] = bench_speechmos(audio, args.baseline_clips)
    report["machine"]["load_average_end"] = os.getloadavg()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
