"""The HTTP server on 127.0.0.1 with a tiny model: every endpoint, the stream, and bad requests."""
from __future__ import annotations

import base64
import io
import json
import time
import urllib.request

import numpy as np
import pytest
import soundfile as sf
from tiny_server import TRAINING_MAX_SECONDS, VOICE_TEXT

TWO = "Hello there, how are you today?"  # two clauses: two pieces within the 2 s training maximum
SHORT = {"max_len_ratio": 2.0}  # at most 2 frames per text token: short audio, fast tests


def _stream(served, body):
    status, headers, raw = served.post("/synthesize/stream", body)
    assert status == 200, raw
    assert headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in raw.decode().splitlines()]


def _samples(lines):
    audio = [m for m in lines if m["type"] == "audio"]
    return audio, np.concatenate([np.frombuffer(base64.b64decode(m["pcm16"]), "<i2") for m in audio])


def test_health_voices_and_page(served):
    status, _, body = served.get("/health")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["sample_rate"] == 24000
    assert health["codec"] == "encodec:random" and health["limits"]["max_concurrent"] == 1
    assert health["dtype"] in ("float32", "bfloat16") and health["quantize"] == "none"  # --dtype auto, the default
    status, _, body = served.get("/voices")
    voices = json.loads(body)["voices"]
    assert status == 200 and [v["name"] for v in voices] == ["alice", "bob", "stale"]
    assert voices[0]["text"] == voices[1]["text"] == VOICE_TEXT and 0.3 < voices[0]["seconds"] < 2
    assert "codec mismatch" in voices[2]["error"]  # a saved voice made for codec2: listed with the reason
    for path, kind in (("/", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css")):
        status, headers, body = served.get(path)
        assert status == 200 and headers["content-type"].startswith(kind) and body
    assert b"http" not in served.get("/")[2].replace(b"http-equiv", b"")  # nothing fetched from elsewhere
    page = served.get("/")[2]
    for query in ("?name=../../../../etc/passwd", "?name=app.js", "?media=text/plain"):
        assert served.get("/" + query)[2] == page  # no request parameter picks a file


def test_one_shot_stream_and_exact_stream_agree(served):
    body = {"text": TWO, "voice": "alice", "sampling": {"seed": 3, "top_k": 20, **SHORT}}
    status, headers, wav = served.post("/synthesize", body)
    assert status == 200 and headers["content-type"] == "audio/wav"
    one, rate = sf.read(io.BytesIO(wav), dtype="int16")
    report = json.loads(headers["x-valle-report"])
    n = len(report["sentences"])  # sentences, cut at clauses to fit 2 s - the prompt
    assert rate == 24000 and n >= 2 and report["streamed"] is False
    for s in report["sentences"]:  # prompt + output within the checkpoint's 2 s training maximum
        assert 0 < s["frames"] <= s["budget_frames"] < int(TRAINING_MAX_SECONDS * 75) - 30
        assert s["prompt"] == "voice"
    fade = int(0.020 * 24000)
    assert one.size == sum(s["frames"] for s in report["sentences"]) * 320 - (n - 1) * fade

    exact = _stream(served, {**body, "exact": True})
    _, exact_samples = _samples(exact)
    assert np.array_equal(exact_samples, one)  # NAR once per sentence: the one-shot audio, sample for sample

    lines = _stream(served, body)
    assert lines[0]["type"] == "start" and lines[0]["sentences"] == [s["text"] for s in report["sentences"]]
    assert lines[-1]["type"] == "end"
    audio, samples = _samples(lines)
    assert [m["index"] for m in audio] == list(range(len(audio)))  # chunk order
    assert [m["sentence"] for m in audio] == sorted(m["sentence"] for m in audio) and audio[-1]["last"]
    assert len(audio) >= 3 and sum(m["samples"] for m in audio) == samples.size == one.size
    # the streamed audio is the one-shot's but for the early frames' codebooks 1-7 (measured 46.7 dB; silence or
    # a shift by a frame: ~0 dB)
    difference = (samples.astype(np.float64) - one).astype(np.float64)
    assert 10 * np.log10(np.sum(one.astype(np.float64) ** 2) / np.sum(difference ** 2)) > 20
    times = [m["seconds_since_start"] for m in audio]
    assert times == sorted(times) and times[0] < times[-1] / 2  # the first audio long before the last
    end = lines[-1]["report"]
    assert end["streamed"] is True and end["first_audio_seconds"] == times[0]
    for s in end["sentences"]:  # the stated tolerance (docs/serving.md): codebook 0 equal, >= 85% of all codes
        assert s["code_agreement"]["codebook0_equal"] and s["code_agreement"]["fraction_equal"] >= 0.85
    status, _, body = served.get("/results")
    results = json.loads(body)["results"]
    assert [r["text"] for r in results[:3]] == [TWO] * 3 and results[0]["streamed"] is True
    assert results[0]["metrics"] is None and "none" in json.loads(body)["metrics_unavailable"]


def test_saved_voice_is_used_and_a_stale_one_refused(served):
    status, headers, wav = served.post("/synthesize", {"text": "Seven geese.", "voice": "bob", "sampling": SHORT})
    assert status == 200 and sf.info(io.BytesIO(wav)).duration > 0
    status, _, raw = served.post("/synthesize", {"text": "Seven geese.", "voice": "stale"})
    assert status == 400 and "codec mismatch" in json.loads(raw)["error"] and "make_voice" in json.loads(raw)["error"]


def test_uploaded_prompt_is_used_without_touching_the_disk(served):
    raw = (served.folder / "secret.wav").read_bytes()
    body = {"text": "Seven geese.", "prompt": {"audio_base64": base64.b64encode(raw).decode(), "text": VOICE_TEXT},
            "sampling": {"seed": 1, **SHORT}}
    before = sorted(p.name for p in served.folder.rglob("*"))
    status, _, wav = served.post("/synthesize", body)
    assert status == 200 and sf.info(io.BytesIO(wav)).duration > 0
    assert sorted(p.name for p in served.folder.rglob("*")) == before


def test_bad_requests_get_clear_4xx_and_the_server_stays_up(served):
    (served.voices / "linked.wav").symlink_to(served.folder / "secret.wav")
    (served.voices / "linked.txt").write_text("x", encoding="utf-8")
    cases = [
        ({"text": ""}, 400, "text is empty"),
        ({"text": "   "}, 400, "text is empty"),
        ({"text": "word " * 200}, 413, "over this server's limit of 400"),
        ({"text": "Hello.", "voice": "carol"}, 404, "no voice 'carol'"),
        ({"text": "Hello.", "voice": "../secret"}, 400, "not a plain name"),
        ({"text": "Hello.", "voice": "/etc/passwd"}, 400, "not a plain name"),
        ({"text": "Hello.", "voice": "..%2Fsecret"}, 400, "not a plain name"),
        ({"text": "Hello.", "voice": "linked"}, 400, "outside the voices folder"),
        ({"text": "Hello.", "voice": 3}, 400, "voice must be"),
        ({"text": "Hello.", "sampling": {"top_p": 2}}, 400, "top_p"),
        ({"text": "Hello.", "sampling": {"beam": 2}}, 400, "unknown sampling option"),
        ({"text": "Hello.", "colour": "red"}, 400, "unknown fields"),
        ({"text": "Hello.", "prompt_mode": "wild"}, 400, "prompt_mode"),
        ({"text": "Hello.", "crossfade_ms": 900}, 400, "crossfade_ms must be in 0..500"),
        ({"text": "Hello.", "prompt": {"audio_base64": "@@@", "text": "x"}}, 400, "not valid base64"),
        ({"text": "Hello.", "prompt": {"audio_base64": "aGVsbG8=", "text": "x"}}, 400, "cannot be read"),
        ({"text": "Hello.", "prompt": {"audio_base64": "aGVsbG8=", "text": ""}}, 400, "prompt.text is empty"),
        ({"text": "Zebra xylophone quartz."}, 400, "cannot synthesize"),  # phonemes the model never saw
    ]
    for body, want, words in cases:
        for path in ("/synthesize", "/synthesize/stream"):
            status, headers, raw = served.post(path, body)
            assert status == want, (path, body, raw)
            assert headers["content-type"] == "application/json" and words in json.loads(raw)["error"], raw
    for raw_body, words in ((b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b"\xff\xfe", "JSON")):
        status, _, raw = served.post("/synthesize", raw=raw_body)
        assert status == 400 and words in json.loads(raw)["error"]
    status, _, raw = served.post("/synthesize", raw=b'{"text": "' + b"a" * 4_100_000 + b'"}')
    assert status == 413 and "byte limit" in json.loads(raw)["error"]
    status, _, raw = served.get("/no/such/thing")
    assert status == 404 and "no such endpoint" in json.loads(raw)["error"]
    status, _, raw = served.get("/synthesize")
    assert status == 405 and "not allowed" in json.loads(raw)["error"]
    assert served.alive


def test_too_many_concurrent_requests_get_429(served):
    req = urllib.request.Request(served.base + "/synthesize/stream", method="POST",
                                 data=json.dumps({"text": TWO, "voice": "alice", "sampling": SHORT}).encode())
    first = urllib.request.urlopen(req, timeout=60)  # --max-concurrent 1: this one holds the slot
    try:
        assert json.loads(first.readline())["type"] == "start"
        for path in ("/synthesize", "/synthesize/stream"):
            status, headers, raw = served.post(path, {"text": "Hello there.", "sampling": SHORT})
            assert status == 429 and "server busy" in json.loads(raw)["error"] and headers["retry-after"] == "2"
        assert served.get("/health")[0] == 200  # the cheap endpoints still answer
        lines = [json.loads(line) for line in first.read().decode().splitlines()]
        assert lines[-1]["type"] == "end"
    finally:
        first.close()
    assert _slot_frees(served)
    gone = urllib.request.urlopen(req, timeout=60)  # a client that leaves mid-stream frees its slot too
    assert json.loads(gone.readline())["type"] == "start"
    gone.close()
    assert _slot_frees(served) and served.alive


def _slot_frees(served) -> bool:
    for _ in range(100):  # bounded wait: at most ~10 s plus the requests
        status = served.post("/synthesize", {"text": "Hello there.", "sampling": SHORT})[0]
        if status != 429:
            return status == 200
        time.sleep(0.1)
    return False


def test_main_refuses_bad_options_with_one_line_each(tmp_path, capsys):
    from valle.bin.serve import main

    with pytest.raises(SystemExit) as e:  # the one error ending: one "error: ..." line, exit status 1
        main(["--checkpoint", str(tmp_path / "x.pt"), "--voices-dir", str(tmp_path / "none"), "--max-concurrent", "0"])
    err = str(e.value.code)
    assert err.startswith("error: ") and "\n" not in err
    assert "--max-concurrent must be >= 1" in err and f"--voices-dir {tmp_path / 'none'} is not a folder" in err
    (tmp_path / "voices").mkdir()
    with pytest.raises(SystemExit) as e:
        main(["--checkpoint", str(tmp_path / "x.pt"), "--voices-dir", str(tmp_path / "voices")])
    assert "x.pt" in str(e.value.code)  # the missing checkpoint, named, before any port is opened
