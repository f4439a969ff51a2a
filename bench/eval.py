"""Throughput of the offline evaluation backends: utterances of ~5 s scored per second on CPU.

Prints one JSON object.  The utterances are real speech: 5 s pieces of the LibriSpeech sample in
tests/eval/data and espeak-ng sentences of ~5 s in several voices, repeated to ``--num``.
Measured per backend (pocketsphinx transcribe, resemblyzer embed, DNSMOS P.835 score), each
after loading it once, and for the whole ``Scorer`` (file read, all three metrics, flags) on the
test list; baselines in the same run: ``speechmos.dnsmos.run`` (the package's own entry point,
which also computes P.808 through librosa) on the first clips.  Goal (issue 12): 100 utterances
of ~5 s in under 2 minutes on 2 cores with all three backends.

Run: ``.venv/bin/python bench/eval.py --num 100`` (timings on a busy machine are inflated: the
JSON records the CPU, its flags and the load average at start and end).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SENTENCES = [
    "The kettle began to sing just as the rain reached the kitchen window.",
    "Please put the green folder on the second shelf beside the old radio.",
    "Seven geese flew low over the frozen lake before the sun came up.",
    "Could you read the last line of the letter again a little more slowly?",
]
VOICES = ["en-us+m3", "en-us+f4", "en-gb", "en-us+m7"]


def cpu_info() -> dict:
    model, flags = platform.processor(), []
    try:
        text = Path("/proc/cpuinfo").read_text()
        model = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name"))
        all_flags = next(line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags"))
        flags = [f for f in all_flags if f.startswith(("avx", "amx"))]
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "flags": flags, "cores": os.cpu_count(), "load_average": os.getloadavg()}


def make_clips(tmp: Path):
    import soundfile as sf

    clips = []
    wav, sr = sf.read(str(REPO / "tests/eval/data/2412-153948-0000.flac"), dtype="float32")
    text = (REPO / "tests/eval/data/2412-153948.trans.txt").read_text().split(" ", 1)[1].strip()
    for i in range(2):
        path = tmp / f"ls{i}.wav"
        sf.write(str(path), wav[i * 5 * sr:(i + 1) * 5 * sr], sr)
        clips.append((path, text if i == 0 else ""))  # one transcript; the WER there is nominal
    for i, (s, v) in enumerate(zip(SENTENCES, VOICES)):
        path = tmp / f"es{i}.wav"
        subprocess.run(["espeak-ng", "-v", v, "-s", "140", "-w", str(path), s], check=True)
        clips.append((path, s))
    return clips


CPU = {}


def timed(fn, items) -> float:
    """Wall seconds of ``fn`` over ``items``; the process CPU seconds go to ``CPU["last"]``
    (threads included: on a machine shared with other jobs the CPU time is the steadier figure)."""
    start, cpu = time.perf_counter(), time.process_time()
    for x in items:
        fn(x)
    CPU["last"] = time.process_time() - cpu
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--num", type=int, default=100, help="utterances scored per measurement")
    p.add_argument("--baseline-clips", type=int, default=3, help="clips for the speechmos.dnsmos.run baseline")
    args = p.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    import soundfile as sf

    from valle.eval.testlist import TestItem, write_test_list

    report = {"machine": cpu_info(), "num": args.num}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        clips = make_clips(tmp)
        audio = [sf.read(str(c), dtype="float32") for c, _ in clips]
        seconds = [w.size / sr for w, sr in audio]
        batch = [audio[i % len(audio)] for i in range(args.num)]
        report["mean_seconds"] = round(sum(seconds[i % len(seconds)] for i in range(args.num)) / args.num, 2)
        backends = {}

        t = time.perf_counter()
        from valle.eval.asr import load_asr
        asr = load_asr("pocketsphinx")
        load = time.perf_counter() - t
        backends["pocketsphinx"] = {"load_s": round(load, 2), "seconds": round(timed(lambda a: asr.transcribe(*a), batch), 2), "cpu": CPU["last"]}

        t = time.perf_counter()
        from valle.eval.speaker import load_speaker
        spk = load_speaker("resemblyzer")
        spk.embed(*audio[0])  # first call compiles librosa's numba kernels
        load = time.perf_counter() - t
        backends["resemblyzer"] = {"load_s": round(load, 2), "seconds": round(timed(lambda a: spk.embed(*a), batch), 2), "cpu": CPU["last"]}

        t = time.perf_counter()
        from valle.eval.dnsmos import DNSMOS
        mos = DNSMOS()
        load = time.perf_counter() - t
        backends["dnsmos"] = {"load_s": round(load, 2), "seconds": round(timed(lambda a: mos.score(*a), batch), 2), "cpu": CPU["last"]}

        t = time.perf_counter()
        from speechmos import dnsmos as reference
        from valle.eval.audio import resample
        base = [(resample(w, sr, 16000), 16000) for w, sr in audio[: args.baseline_clips]]
        first = time.perf_counter()
        reference.run(*base[0])
        first = time.perf_counter() - first
        rest = timed(lambda a: reference.run(*a), base)
        backends["speechmos.dnsmos.run (baseline)"] = {
            "import_s": round(time.perf_counter() - t - rest - first, 2),
            "first_call_s": round(first, 2), "seconds": round(rest, 2), "clips": len(base), "cpu": CPU["last"]}
        for b in backends.values():
            n = b.get("clips", args.num)
            b["utterances_per_s"] = round(n / b["seconds"], 2)
            b["cpu_s_per_utterance"] = round(b.pop("cpu") / n, 3)

        # the whole Scorer (file read, three metrics, flags) over a test list
        from valle.eval.scoring import Scorer
        items = [TestItem(f"u{i}", "cross-sentence", "en-us", clips[i % len(clips)][1] or "unknown",
                          str(clips[(i + 1) % len(clips)][0]), "", str(clips[i % len(clips)][0]))
                 for i in range(args.num)]
        write_test_list(items, tmp / "list.tsv")
        t = time.perf_counter()
        scorer = Scorer()
        load = time.perf_counter() - t
        total = timed(lambda item: scorer.score(item, item.reference_audio, "bench", 5.0), items)
        report["scorer_all_three"] = {"load_s": round(load, 2), "seconds": round(total, 2),
                                      "cpu_s_per_utterance": round(CPU["last"] / args.num, 3),
                                      "utterances_per_s": round(args.num / total, 2),
                                      "goal": "100 utterances of ~5 s in < 120 s",
                                      "projected_100_s": round(100 * total / args.num + load, 1)}
        report["backends"] = backends
    report["machine"]["load_average_end"] = os.getloadavg()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
