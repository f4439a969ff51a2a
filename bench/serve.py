"""Serving speed: time to first streamed chunk, real-time factor, requests per minute.

Prints one JSON object. A ``small``-preset model (d 256, 4 layers) with random weights and random
Encodec weights (the real 24 kHz decoder's cost) is served by ``valle.bin.serve``'s own builder
on 127.0.0.1 (a thread of this process; the clients are threads too and spend their time waiting
on sockets). Random weights would stop at a random point, so every request sets
``sampling.max_frames`` and a ``min_len_ratio`` that forbids end-of-speech before it: each
request generates exactly the frames asked for.

  * ``ten_second_sentence``: one ~10 s sentence (750 frames), streamed (time to the first audio
    chunk as the client sees it, and the real-time factor of the whole stream) and one-shot (the
    latency a client waits without streaming), same seed;
  * ``four_clients``: 4 clients each sending one-shot requests for a ~3 s sentence (225 frames)
    back to back for ``--seconds``, ``--max-concurrent 4``: requests per minute.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/serve.py`` (about 2-3 minutes on 2 idle cores;
timings on a busy machine are not comparable: run it alone and say the CPU).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import torch

TEN = ("The lighthouse keeper wrote down every ship that passed the rocks at night, and in the morning he "
       "read the list aloud to the children of the village.")
THREE = "Seven geese flew low over the frozen lake."
VOICE = "Quiet streets and open windows mark the start of summer."


def build(folder: Path) -> Path:
    from valle.codec import facts_of
    from valle.models import VALLE, get_preset
    from valle.text.symbol_table import SymbolTable
    from valle.text.tokenizer import get_text_tokenizer
    from valle.train.checkpoint import save_checkpoint

    tok = get_text_tokenizer("espeak", "en-us")
    table = SymbolTable.for_corpus([t for tt in tok.batch([TEN, THREE, VOICE]) for t in tt.tokens])
    torch.manual_seed(0)
    cfg = get_preset("small", text_vocab_size=len(table.symbols))
    voices = folder / "voices"
    voices.mkdir()
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(voices / "v.wav"), VOICE], check=True)
    (voices / "v.txt").write_text(VOICE, encoding="utf-8")
    return save_checkpoint(folder / "small.pt", model=VALLE(cfg).state_dict(), model_config=cfg.to_dict(),
                           text_symbols=table.symbols, train_stage=0, codec=facts_of("encodec:random"),
                           args={"filter_max_duration": 20.0})


def post(base: str, path: str, body: dict):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=600)


def stream(base: str, body: dict) -> dict:
    start = time.perf_counter()
    first, samples, rate, chunks = None, 0, 24000, 0
    with post(base, "/synthesize/stream", body) as r:
        for line in r:
            msg = json.loads(line)
            if msg["type"] == "start":
                rate = msg["sample_rate"]
            elif msg["type"] == "audio" and msg["samples"]:
                first = first if first is not None else time.perf_counter() - start
                samples += msg["samples"]
                chunks += 1
            elif msg["type"] == "error":
                raise RuntimeError(msg["error"])
            elif msg["type"] == "end":
                report = msg["report"]
    total = time.perf_counter() - start
    return {"time_to_first_chunk_s": round(first, 3), "total_s": round(total, 3), "audio_s": round(samples / rate, 3),
            "rtf": round(total / (samples / rate), 3), "chunks": chunks,
            "code_agreement": [s["code_agreement"] for s in report["sentences"]]}


def one_shot(base: str, body: dict) -> dict:
    start = time.perf_counter()
    with post(base, "/synthesize", body) as r:
        wav = r.read()
    total = time.perf_counter() - start
    seconds = (len(wav) - 44) / 2 / 24000
    return {"latency_s": round(total, 3), "audio_s": round(seconds, 3), "rtf": round(total / seconds, 3)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="length of the 4-client throughput run")
    p.add_argument("--clients", type=int, default=4)
    args = p.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)  # the random-codec banner and guard notes are expected here
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))  # the model, voices and work dir; removed at the end
    try:
        return _run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(args, folder: Path) -> int:
    from valle.bin.serve import build_server, get_parser

    ckpt = build(folder)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = build_server(get_parser().parse_args([
        "--checkpoint", str(ckpt), "--voices-dir", str(folder / "voices"), "--port", str(port), "--metrics", "none",
        "--work-dir", str(folder / "work"), "--max-concurrent", str(args.clients), "--request-timeout", "600",
        "--log-level", "warning"]))
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if server.started:
            break
        time.sleep(0.1)
    ten = {"text": TEN, "voice": "v", "sampling": {"seed": 1, "max_frames": 750, "min_len_ratio": 1000}}
    stream(base, {**ten, "sampling": {**ten["sampling"], "max_frames": 30}})  # warm-up
    out = {"bench": "serve", "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "model": "small preset (d 256, 4 layers), random weights",
           "codec": "encodec:random (24 kHz Encodec decoder)",
           "ten_second_sentence": {"streamed": stream(base, ten), "one_shot": one_shot(base, ten)}}
    three = {"text": THREE, "voice": "v", "sampling": {"seed": 1, "max_frames": 225, "min_len_ratio": 1000}}
    done, lat = [], []
    stop = time.perf_counter() + args.seconds

    def client():
        while time.perf_counter() < stop:
            r = one_shot(base, three)
            done.append(time.perf_counter())
            lat.append(r["latency_s"])

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    out["four_clients"] = {"clients": args.clients, "sentence_audio_s": 3.0, "requests": len(done),
                           "elapsed_s": round(elapsed, 1), "requests_per_minute": round(len(done) / elapsed * 60, 2),
                           "mean_latency_s": round(sum(lat) / max(len(lat), 1), 2)}
    server.should_exit = True
    serving.join(timeout=30)  # before its folder goes
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
