"""Where stage 3's Encodec encoder spends its CPU time, printed as one JSON object.

    OMP_NUM_THREADS=1 .venv/bin/python bench/encodec_profile.py [--seconds 60] [--group-sizes 8 16 32]

Makes an espeak-ng corpus as bench/prepare.py does (wav 22.05 kHz mono, flac 16 kHz, wav 44.1 kHz
stereo), reads and resamples it to 24 kHz once (timed apart), then encodes it with stage 3's CPU
encoder (encodec_cpu, random weights, one torch thread, groups of similar durations as the stage
forms them) under cProfile with a CPU-time clock: CPU milliseconds per second of audio and the share
of each torch operation (convolutions with a kernel > 1 are ``conv2d``; 1x1 convolutions, the first
convolution and the quantizer are ``addmm``; the ELUs ``elu``/``elu_``; the two-layer LSTM ``lstm``).
CPU time, not wall time: the figures hold on a machine shared with other jobs (cache and memory
contention still slow it somewhat). ``group_sizes`` encodes the same corpus with other group sizes
(the LSTM batch) and says whether the codes equal those of the stage's group size.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from prepare import cpu_model, make_corpus  # noqa: E402

from valle.codec import load_codec  # noqa: E402
from valle.data.cut_encoding import GROUP_SIZE  # noqa: E402


def groups_of(wavs: list, size: int) -> list:
    """Indices of ``wavs`` in groups of ``size`` similar lengths, longest first (as cpu_groups)."""
    order = sorted(range(len(wavs)), key=lambda i: (-wavs[i].shape[-1], i))
    return [order[i:i + size] for i in range(0, len(order), size)]


def encode_all(encoder, wavs: list, size: int) -> list:
    codes = [None] * len(wavs)
    for group in groups_of(wavs, size):
        for i, c in zip(group, encoder.encode_group([wavs[i] for i in group])):
            codes[i] = c
    return codes


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="seconds of speech in the corpus")
    p.add_argument("--group-sizes", type=int, nargs="*", default=[8, 16, 32])
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    codec = load_codec("encodec:random", "cpu")
    encoder = codec.group_encoder("fast")
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        files = make_corpus(Path(tmp), args.seconds)
        c0 = time.process_time()
        wavs = []
        for f in files:
            audio, rate = sf.read(str(f), dtype="float32", always_2d=True)
            wavs.append(codec.to_input(torch.from_numpy(audio.T.copy()), rate)[0])
        read_cpu = time.process_time() - c0
    audio_s = sum(w.shape[-1] for w in wavs) / codec.sample_rate
    encode_all(encoder, wavs[:GROUP_SIZE], GROUP_SIZE)  # warm-up (oneDNN kernels, allocator)
    prof = cProfile.Profile(timer=time.process_time)
    c0 = time.process_time()
    prof.enable()
    reference = encode_all(encoder, wavs, GROUP_SIZE)
    prof.disable()
    total = time.process_time() - c0
    stats = pstats.Stats(prof).stats
    ops = {}
    for (_, _, name), (_, _, tottime, _, _) in stats.items():
        if name.startswith("<built-in method "):
            key = name[len("<built-in method "):].split(" ")[0].rstrip(">")
        elif name.startswith("<method "):
            key = "Tensor." + name.split("'")[1]
        else:
            continue
        ops[key] = ops.get(key, 0.0) + tottime
    top = sorted(ops.items(), key=lambda kv: -kv[1])
    res = {"cpu": cpu_model(), "torch": torch.__version__, "threads": torch.get_num_threads(),
           "audio_seconds": round(audio_s, 1), "utterances": len(wavs),
           "read_and_resample_cpu_ms_per_audio_s": round(read_cpu / audio_s * 1e3, 2),
           "encode_cpu_ms_per_audio_s": round(total / audio_s * 1e3, 2),
           "encode_audio_s_per_cpu_s": round(audio_s / total, 2),
           "ops": {k: {"cpu_ms_per_audio_s": round(v / audio_s * 1e3, 2), "share": round(v / total, 3)}
                   for k, v in top if v / total >= 0.005}}
    sizes = {}
    for size in args.group_sizes:
        c0 = time.process_time()
        codes = encode_all(encoder, wavs, size)
        spent = time.process_time() - c0
        sizes[str(size)] = {"encode_audio_s_per_cpu_s": round(audio_s / spent, 2),
                            "codes_equal": all(torch.equal(a, b) for a, b in zip(codes, reference))}
    res["group_sizes"] = sizes
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
