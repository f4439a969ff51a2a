"""Helpers for the server tests (and a manual run): a tiny served model: a nano VALL-E X-style checkpoint on random Encodec weights, one voice.

Random Encodec weights (``encodec:random``): the codec of the published layouts, whose windowed decode
gives the one-shot samples within float rounding, so streamed and one-shot audio compare. The checkpoint
records ``filter_max_duration`` 3 s as its training maximum, so every sentence runs into the
prompt + output budget (the AR of random weights rarely says EOS) and requests stay short.
The server runs in a thread of the test process on 127.0.0.1 on a free port; every wait loop is
bounded.
"""
from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import torch

SENTENCES = [
    "Hello there, how are you today?",
    "The kettle began to sing just as the rain reached the window.",
    "Please put the green folder on the second shelf.",
    "Seven geese flew low over the frozen lake.",
]
VOICE_TEXT = "Seven geese."
TRAINING_MAX_SECONDS = 2.0


def build_checkpoint(path: Path) -> Path:
    from valle.codec import facts_of
    from valle.models import VALLE, get_preset
    from valle.text.symbol_table import SymbolTable
    from valle.text.tokenizer import get_text_tokenizer
    from valle.train.checkpoint import save_checkpoint

    tok = get_text_tokenizer("espeak", "en-us")
    table = SymbolTable.for_corpus([t for tt in tok.batch(SENTENCES + [VOICE_TEXT]) for t in tt.tokens])
    torch.manual_seed(0)
    config = get_preset("nano", text_vocab_size=max(len(table.symbols), 8))
    model = VALLE(config)
    return save_checkpoint(path, model=model.state_dict(), model_config=config.to_dict(), text_symbols=table.symbols,
                           train_stage=0, codec=facts_of("encodec:random"), args={"filter_max_duration": TRAINING_MAX_SECONDS})


def save_voices(folder: Path, ckpt: Path) -> None:
    """``bob``: a saved voice (valle.voice) of the served model; ``stale``: one made for codec2."""
    import numpy as np
    import soundfile as sf

    from valle.codec import codec_identity, facts_of
    from valle.text.tokenizer import get_text_tokenizer
    from valle.voice import Voice, save_voice, symbols_digest, voice_path

    symbols = torch.load(ckpt, weights_only=True)["text_symbols"]
    tokens = list(get_text_tokenizer("espeak", "en-us")(VOICE_TEXT, "en-us").tokens)
    audio, sr = sf.read(str(folder / "alice.wav"), dtype="int16")
    for name, spec, size in (("bob", "encodec:random", 1024), ("stale", "codec2", 256)):
        codes = np.random.default_rng(0).integers(0, size, (40, 8)).astype("int16")
        save_voice(voice_path(name, folder), Voice(
            name=name, speaker=name, language="en-us", text=VOICE_TEXT, text_tokens=tokens, tokenizer="espeak",
            symbols_sha256=symbols_digest(symbols), num_symbols=len(symbols), codec=facts_of(spec),
            codec_identity=codec_identity(spec), codes=codes, audio=audio, sample_rate=sr))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(base: str, path: str, body=None, timeout: float = 60.0, raw: bytes = None):
    """(status, headers, body bytes) of a GET (body None) or a POST of JSON ``body`` / bytes ``raw``."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method="GET" if data is None else "POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Server:
    def __init__(self, base: str, uvicorn_server, thread, voices: Path, folder: Path):
        self.base, self.uvicorn, self.thread, self.voices, self.folder = base, uvicorn_server, thread, voices, folder

    def get(self, path: str, **kw):
        return http(self.base, path, **kw)

    def post(self, path: str, body=None, **kw):
        return http(self.base, path, body if body is not None else {}, **kw)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive() and self.get("/health")[0] == 200


def start_server(folder: Path, extra=()) -> Server:
    """Build the checkpoint and a one-voice folder in ``folder`` and serve it from a thread of this
    process (``valle.bin.serve``'s own parser and builder; a second process would pay torch's
    import again) on 127.0.0.1, a free port; the wait for it is bounded."""
    from valle.bin.serve import build_server, check_args, get_parser

    ckpt = build_checkpoint(folder / "tiny.pt")
    voices = folder / "voices"
    voices.mkdir(exist_ok=True)
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "220", "-w", str(voices / "alice.wav"), VOICE_TEXT], check=True)
    (voices / "alice.txt").write_text(VOICE_TEXT + "\n", encoding="utf-8")
    save_voices(voices, ckpt)
    (folder / "secret.txt").write_text("not a voice\n", encoding="utf-8")
    subprocess.run(["espeak-ng", "-v", "en-gb", "-s", "220", "-w", str(folder / "secret.wav"), VOICE_TEXT], check=True)
    port = free_port()
    args = get_parser().parse_args([
        "--checkpoint", str(ckpt), "--voices-dir", str(voices), "--port", str(port), "--work-dir",
        str(folder / "work"), "--max-concurrent", "1", "--max-text-chars", "400", "--request-timeout", "60",
        "--chunk-frames", "30", "--log-level", "warning", *extra])
    assert check_args(args) == []
    server = build_server(args)
    thread = threading.Thread(target=server.run, name="valle-serve-test", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):  # bounded: at most ~20 s
        if not thread.is_alive():
            raise RuntimeError("the server thread exited before answering /health")
        if server.started:
            try:
                if http(base, "/health", timeout=2)[0] == 200:
                    return Server(base, server, thread, voices, folder)
            except OSError:
                pass
        time.sleep(0.1)
    server.should_exit = True
    raise RuntimeError("server did not answer /health within 20 s")


def stop_server(server: Server) -> None:
    server.uvicorn.should_exit = True
    server.thread.join(timeout=10)
