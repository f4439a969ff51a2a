"""Benchmark of stage 3 (audio tokens): Encodec and codec2 speed at --nj 1 and --nj 2, and peak memory.

    .venv/bin/python bench/prepare.py [--seconds 150] [--keep DIR]

Makes an espeak-ng corpus (about ``--seconds`` of speech: 22.05 kHz mono wav, 16 kHz flac and
44.1 kHz stereo wav, so decoding, downmixing and resampling are part of the cost), writes the
manifests stages 1-2 would write, and runs ``python -m valle.bin.tokenize_audio`` with
``--codec encodec:random`` (and ``--codec codec2``) in a fresh process per measurement. Prints one
JSON object:

* ``nj1`` / ``nj2``: seconds of audio per wall second of the stage (manifest loading, codec
  load, worker start, encoding, writing) and of the encoding loop alone, seconds of audio per
  CPU second (all processes; a busy machine lowers wall-clock speed but hardly this), peak RSS
  of the main process and of the largest worker.
* ``nj2_encodec_per_cut``: the same at --nj 2 with ``--cpu-encoder encodec`` (encodec's own
  ``model.encode``, one call per cut: the issue's baseline), measured in the same run, and the
  speed-up of the default encoder over it: whole stage, encoding loop alone, and CPU seconds.
* ``memory``: peak RSS at --nj 2 for the corpus and for a third of it; flat memory means the
  two are close (the codes of a chunk are the only per-cut state kept).
* ``codec2``: ``--codec codec2`` at --nj 1 and --nj 2 on the same corpus in the same run (the
  figures above are Encodec's), and ``codec2_over_encodec_nj2``: its speed-up over Encodec.
* ``cpu``: the CPU model and whether it has AVX-512 (timings differ between machine kinds).

Goals: Encodec (issue 2) >= 25x real time with --nj 2 on 2 CPU cores; codec2 (issue 13) >= 150x.

``--long-minutes 10 60`` benchmarks stage 1 of the ``long`` layout instead (bench/long_layout.py):
one recording of each length with its transcript; speed (VAD + alignment, >= 20x real time is the
goal) and peak RSS (flat in the length is the goal).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SENTENCES = [
    "Printing, in the only sense with which we are at present concerned, differs from most arts.",
    "The quick brown fox jumps over the lazy dog while the farmer watches from the porch.",
    "She sells sea shells by the sea shore, and the shells she sells are surely sea shells.",
    "A journey of a thousand miles begins with a single step taken on a quiet morning.",
    "Speech synthesis turns written text into audio that sounds like a human voice.",
    "The committee will meet again next Thursday to discuss the budget for the coming year.",
    "Bright sunlight streamed through the tall windows of the old library reading room.",
    "He carefully packed his books, his notes and a small lamp into the wooden chest.",
]
VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb+m3"]

# Run inside a fresh interpreter: one stage invocation, then its own resource usage.
CHILD = r"""
import json, resource, sys, time
from valle.bin.tokenize_audio import main
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
start, cpu0 = time.perf_counter(), cpu()
code = main(sys.argv[1:])
wall = time.perf_counter() - start
print("BENCH " + json.dumps({
    "code": code, "wall": wall, "cpu": cpu() - cpu0,
    "main_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "worker_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def make_corpus(root: Path, seconds: float) -> list:
    """espeak-ng utterances in three formats until ``seconds`` of audio exist; returns the paths."""
    import soundfile as sf

    files, total, i = [], 0.0, 0
    while total < seconds:
        text = SENTENCES[i % len(SENTENCES)]
        voice = VOICES[(i // len(SENTENCES)) % len(VOICES)]
        raw = root / f"raw{i:04d}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(150 + 10 * (i % 5)), "-w", str(raw), text], check=True)
        if i % 3 == 0:
            out = raw
        elif i % 3 == 1:
            out = root / f"utt{i:04d}.flac"
            subprocess.run(["sox", str(raw), "-r", "16000", str(out)], check=True)
        else:
            out = root / f"utt{i:04d}.wav"
            subprocess.run(["sox", str(raw), "-r", "44100", "-c", "2", str(out)], check=True)
        if out != raw:
            raw.unlink()
        total += sf.info(str(out)).duration
        files.append(out)
        i += 1
    return files


def write_manifests(root: Path, files: list, repeat: int = 1) -> tuple:
    """What stages 1-2 would write: recordings, and supervisions with text tokens; ``repeat``
    lists every file that many times (under other ids), for a corpus ``repeat`` times longer."""
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

    manifests, tokenized = root / "manifests", root / "tokenized"
    manifests.mkdir(parents=True, exist_ok=True)
    tokenized.mkdir(parents=True, exist_ok=True)
    recs = [Recording.from_file(f, recording_id=f"rec{i:05d}") for i, f in enumerate(list(files) * repeat)]
    sups = [SupervisionSegment(id=f"utt{i:05d}", recording_id=r.id, start=0.0, duration=r.duration, channel=0,
                               text="x", language="en-us", custom={"text_tokens": ["x"]})
            for i, r in enumerate(recs)]
    RecordingSet.from_recordings(recs).to_file(manifests / "bench_recordings_train.jsonl.gz")
    SupervisionSet.from_segments(sups).to_file(tokenized / "bench_supervisions_train.jsonl.gz")
    return manifests, tokenized, sum(r.duration for r in recs)


def cpu_model() -> dict:
    """The CPU's model name and vector extensions, from /proc/cpuinfo (Linux)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"model": "unknown"}
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    flags = {k.strip(): v.strip() for k, v in fields.items()}.get("flags", "").split()
    name = {k.strip(): v.strip() for k, v in fields.items()}.get("model name", "unknown")
    return {"model": name, "avx2": "avx2" in flags, "avx512f": "avx512f" in flags, "amx": "amx_tile" in flags}


def run_stage(manifests: Path, tokenized: Path, nj: int, cpu_encoder: str = "fast", codec: str = "encodec:random") -> dict:
    shutil.rmtree(tokenized / "codes", ignore_errors=True)
    for f in tokenized.glob("*cuts*"):
        f.unlink()
    for f in tokenized.glob(".stage3_*.stamp.json"):
        f.unlink()
    args = ["--manifests-dir", str(manifests), "--tokenized-dir", str(tokenized), "--prefix", "bench",
            "--codec", codec, "--nj", str(nj), "--cpu-encoder", cpu_encoder, "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=REPO, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"stage 3 failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-1][len("BENCH "):])
    for line in proc.stderr.splitlines():  # "encoded X s of audio in Y s (Zx real time)"
        if "encoded" in line and "real time" in line:
            words = line.split()
            at = words.index("encoded")
            result["encode_audio_s"], result["encode_wall_s"] = float(words[at + 1]), float(words[at + 6])
    return result


def summarize(run: dict, audio: float) -> dict:
    return {
        "audio_seconds_per_wall_second": round(audio / run["wall"], 2),
        "encode_loop_audio_seconds_per_wall_second": round(run["encode_audio_s"] / run["encode_wall_s"], 2),
        "stage_wall_s": round(run["wall"], 2),
        # robust to other load on the machine: audio seconds per CPU second (all processes)
        "audio_seconds_per_cpu_second": round(audio / run["cpu"], 2),
        "peak_rss_main_mb": round(run["main_rss_mb"], 1),
        "peak_rss_worker_mb": round(run["worker_rss_mb"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seconds", type=float, default=150.0, help="seconds of speech in the large corpus")
    parser.add_argument("--codec2-repeat", type=int, default=4,
                        help="codec2 runs on the corpus listed this many times: it is so fast that the "
                        "stage's fixed cost (imports, manifests: ~2 s) would dominate 150 s of audio")
    parser.add_argument("--keep", type=Path, default=None, help="keep the corpus and outputs in this folder")
    parser.add_argument("--long-minutes", type=float, nargs="+", default=None,
                        help="benchmark stage 1 of the long layout on recordings of these lengths instead")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="valle-bench-prepare-"))
    if args.long_minutes:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from long_layout import bench_long

        try:
            print(json.dumps({"benchmark": "stage 1, long layout: one espeak-ng recording with its transcript",
                              "cpu_count": os.cpu_count(), "cpu": cpu_model(),
                              "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                              "goal": ">= 20x real time for VAD + alignment; peak RSS flat in the length",
                              "long": bench_long(root, args.long_minutes, REPO)}))
        finally:
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)
        return
    try:
        (root / "audio").mkdir(parents=True, exist_ok=True)
        large_files = make_corpus(root / "audio", args.seconds)
        small_files = large_files[: max(1, len(large_files) // 3)]
        large = write_manifests(root / "large", large_files)
        small = write_manifests(root / "small", small_files)
        nj1 = run_stage(large[0], large[1], 1)
        nj2 = run_stage(large[0], large[1], 2)
        nj2_small = run_stage(small[0], small[1], 2)
        nj2_encodec = run_stage(large[0], large[1], 2, cpu_encoder="encodec")
        c2 = write_manifests(root / "codec2", large_files, repeat=args.codec2_repeat)
        c2_nj1 = run_stage(c2[0], c2[1], 1, codec="codec2")
        c2_nj2 = run_stage(c2[0], c2[1], 2, codec="codec2")
        c2_nj2_small = run_stage(large[0], large[1], 2, codec="codec2")
        report = {
            "benchmark": "stage 3 (Encodec 24 kHz, 6 kbps, random weights; codec2 3200) on an espeak-ng corpus",
            "cpu_count": os.cpu_count(),
            "cpu": cpu_model(),
            "corpus": {"utterances": len(large_files), "audio_seconds": round(large[2], 1),
                       "formats": "1/3 22.05 kHz mono wav, 1/3 16 kHz flac, 1/3 44.1 kHz stereo wav"},
            "nj1": summarize(nj1, large[2]),
            "nj2": summarize(nj2, large[2]),
            # the same run with encodec's own model.encode, one call per cut (--cpu-encoder encodec)
            "nj2_encodec_per_cut": summarize(nj2_encodec, large[2]),
            "nj2_speedup_over_encodec_per_cut": {
                "stage_wall": round(nj2_encodec["wall"] / nj2["wall"], 2),
                "encode_loop_wall": round(nj2_encodec["encode_wall_s"] / nj2["encode_wall_s"], 2),
                "cpu_seconds": round(nj2_encodec["cpu"] / nj2["cpu"], 2),
            },
            "memory": {
                "nj2_peak_rss_main_mb": {f"{large[2]:.0f}s": round(nj2["main_rss_mb"], 1),
                                         f"{small[2]:.0f}s": round(nj2_small["main_rss_mb"], 1)},
                "nj2_peak_rss_worker_mb": {f"{large[2]:.0f}s": round(nj2["worker_rss_mb"], 1),
                                           f"{small[2]:.0f}s": round(nj2_small["worker_rss_mb"], 1)},
            },
            "goal": ">= 25x real time with --nj 2 on 2 CPU cores",
            "goal_met": nj2["wall"] > 0 and large[2] / nj2["wall"] >= 25,
            "codec2": {
                "corpus_audio_seconds": round(c2[2], 1),
                "nj1": summarize(c2_nj1, c2[2]),
                "nj2": summarize(c2_nj2, c2[2]),
                "nj2_on_the_encodec_corpus": summarize(c2_nj2_small, large[2]),
                "goal": ">= 150x real time with --nj 2 on 2 CPU cores",
                "goal_met": c2[2] / c2_nj2["wall"] >= 150,
            },
            # per second of audio, on the same files: Encodec nj2 time / codec2 nj2 time
            "codec2_over_encodec_nj2": {
                "stage_wall": round((nj2["wall"] / large[2]) / (c2_nj2["wall"] / c2[2]), 2),
                "encode_loop_wall": round((nj2["encode_wall_s"] / large[2]) / (c2_nj2["encode_wall_s"] / c2[2]), 2),
                "cpu_seconds": round((nj2["cpu"] / large[2]) / (c2_nj2["cpu"] / c2[2]), 2),
            },
        }
        print(json.dumps(report))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
