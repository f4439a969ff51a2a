"""The HTTP API (FastAPI): one loaded model, its voices, limits, JSON errors, the web page.

    GET  /                    the web page (valle/serve/static, no external resources)
    GET  /health              model, codec, sample rate, requests running
    GET  /voices              the voices (name, transcript, language, seconds)
    GET  /results             the last few results, with metrics when the evaluation backends load
    POST /synthesize          JSON request (valle.serve.requests) -> audio/wav (report in X-Valle-Report)
    POST /synthesize/stream   the same request -> NDJSON lines: start, audio chunks in order, end

Every error is ``{"error": "...", "field": "..."}`` with a 4xx status (5xx only for a fault of
the server itself); the server keeps running. Only the files of ``static/`` (a fixed list) and
of the voices folder (``voices.PromptFolder``: plain names only) are ever read for a request, and
only the work folder (result wavs for scoring) is written.
"""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np
from fastapi import Request

from valle.infer.long_text import LongTextOptions, Speech
from valle.infer.streaming import StreamOptions
from valle.serve.audio_bytes import to_int16, wav_bytes
from valle.serve.requests import ApiError, Limits, SpeechRequest, parse_request
from valle.serve.results import RecentResults
from valle.serve.voices import UploadError, VoiceNotFound, prompt_from_upload
from valle.voice import VoiceError, VoiceNameError

log = logging.getLogger("valle.serve")

STATIC = Path(__file__).parent / "static"
PAGES = {"/": ("index.html", "text/html; charset=utf-8"), "/app.js": ("app.js", "text/javascript; charset=utf-8"),
         "/style.css": ("style.css", "text/css; charset=utf-8")}


class RequestTimeout(Exception):
    pass


class SpeechService:
    """The model, its voices and the limits; turns a checked request into a ``Speech``."""

    def __init__(self, synth, voices, limits: Limits, language: str, results: RecentResults,
                 train_args: Optional[dict] = None, stream: Optional[StreamOptions] = None,
                 max_seconds: float = 0.0):
        self.synth, self.voices, self.limits, self.language = synth, voices, limits, language
        self.results, self.train_args = results, train_args
        self.stream = stream or StreamOptions()
        self.max_seconds = max_seconds
        self.slots = threading.BoundedSemaphore(limits.max_concurrent)
        self.running = 0
        self._count = threading.Lock()

    def acquire(self) -> None:
        if not self.slots.acquire(blocking=False):
            raise ApiError(429, f"server busy: {self.limits.max_concurrent} requests are running (--max-concurrent "
                                f"{self.limits.max_concurrent}); retry in a few seconds")
        with self._count:
            self.running += 1

    def release(self) -> None:
        with self._count:
            self.running -= 1
        self.slots.release()

    def voice_for(self, req: SpeechRequest):
        try:
            if req.prompt is not None:
                p = req.prompt
                return prompt_from_upload(self.synth, p.get("audio_base64"), p.get("text"), p.get("language"),
                                          self.limits.max_prompt_seconds,
                                          int(self.limits.max_prompt_seconds * 48000 * 2 * 2) + 1024)
            name = req.voice or next(iter(self.voices.names()), None)  # the folder is listed only without one
            if name is None:
                raise ApiError(400, "this server has no voices: upload a prompt (prompt.audio_base64 and prompt.text)",
                               "voice")
            return self.voices.get(name)
        except VoiceNotFound as e:
            raise ApiError(404, str(e), "voice") from None
        except VoiceNameError as e:
            status = 404 if str(e).startswith("no voice") else 400
            raise ApiError(status, str(e), "voice") from None
        except VoiceError as e:  # a saved voice made for another codec or symbol table
            raise ApiError(400, str(e), "voice") from None
        except UploadError as e:
            raise ApiError(400, str(e), "prompt") from None

    def speech(self, req: SpeechRequest, streamed: bool) -> tuple:
        voice = self.voice_for(req)
        language = req.language or voice.language or self.language
        deadline = time.monotonic() + self.limits.request_timeout

        def check() -> None:
            if time.monotonic() > deadline:
                raise RequestTimeout(f"the request ran over the server's {self.limits.request_timeout:g} s limit "
                                     "(--request-timeout): send a shorter text")

        stream = self.stream if (streamed and not req.exact) else StreamOptions(nar_lookahead=-1)
        long = LongTextOptions(prompt_mode=req.prompt_mode, crossfade_ms=req.crossfade_ms,
                               max_seconds=self.max_seconds)
        try:
            speech = Speech(self.synth, req.text, voice.text, voice.codes, language, voice.language or language,
                            req.sampling, long, stream=stream, train_args=self.train_args, check=check,
                            prompt_ids=voice.prompt_ids)
        except (ValueError, KeyError) as e:
            raise ApiError(400, f"cannot synthesize this request: {e}") from None
        return speech, voice, language

    def record(self, req: SpeechRequest, speech: Speech, voice, language: str, samples: np.ndarray) -> dict:
        report = speech.report()
        entry = {"text": req.text, "voice": voice.name, "seconds": report["seconds"],
                 "first_audio_seconds": report["first_audio_seconds"], "rtf": report["rtf"],
                 "compute_seconds": report["compute_seconds"], "streamed": report["streamed"] and not req.exact}
        self.results.add(entry, samples, speech.sample_rate, voice.audio_path, language)
        return report


def create_app(service: SpeechService):
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response, StreamingResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app = FastAPI(title="valle", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ApiError)
    async def api_error(request, exc: ApiError):
        headers = {"Retry-After": "2"} if exc.status == 429 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        what = {404: f"no such endpoint {request.url.path}: see GET /health, /voices, /results, POST /synthesize, "
                     "/synthesize/stream", 405: f"method {request.method} is not allowed on {request.url.path}"}
        return JSONResponse({"error": what.get(exc.status_code, str(exc.detail))}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def fault(request, exc):
        log.exception("request %s failed", request.url.path)
        return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)

    def page_of(name: str, media: str):
        def page():  # no parameters: nothing in a request chooses the file
            return Response((STATIC / name).read_bytes(), media_type=media)
        return page

    for route, (name, media) in PAGES.items():
        app.add_api_route(route, page_of(name, media), methods=["GET"], include_in_schema=False)

    @app.get("/health")
    def health():
        s = service.synth
        return {"status": "ok", "checkpoint": s.sources, "codec": s.codec.spec, "sample_rate": s.codec.sample_rate,
                "dtype": s.dtype, "ar_dtype": s.ar_dtype, "quantize": s.quantize,
                "language": service.language, "running": service.running,
                "limits": {k: getattr(service.limits, k) for k in vars(service.limits)}}

    @app.get("/voices")
    def voices():
        return {"voices": service.voices.describe(), "default_language": service.language}

    @app.get("/results")
    def results():
        return {"results": service.results.list(), "metrics_unavailable": service.results.metrics_unavailable}

    async def read(request: Request) -> SpeechRequest:
        """The body, read only up to the size limit (a huge upload is refused, not buffered)."""
        limit = service.limits.max_body_bytes
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > limit:
                raise ApiError(413, f"request body is over the {limit}-byte limit: upload a prompt of at most "
                                    f"{service.limits.max_prompt_seconds:g} s and send long texts in parts")
        return parse_request(bytes(body), service.limits)

    @app.post("/synthesize")
    async def synthesize(request: Request):
        req = await read(request)
        service.acquire()
        try:
            return await run_in_threadpool(one_shot, req)
        finally:
            service.release()

    def one_shot(req: SpeechRequest):
        speech, voice, language = service.speech(req, streamed=False)
        try:
            wav = speech.wav()
        except RequestTimeout as e:
            raise ApiError(503, str(e)) from None
        samples = to_int16(wav)
        report = service.record(req, speech, voice, language, samples)
        return Response(wav_bytes(samples, speech.sample_rate), media_type="audio/wav",
                        headers={"X-Valle-Report": json.dumps(report, ensure_ascii=True, separators=(",", ":"))})

    @app.post("/synthesize/stream")
    async def synthesize_stream(request: Request):
        req = await read(request)
        service.acquire()
        try:
            speech, voice, language = await run_in_threadpool(service.speech, req, True)
        except BaseException:
            service.release()
            raise
        return StreamingResponse(lines(req, speech, voice, language), media_type="application/x-ndjson")

    async def lines(req, speech, voice, language):
        """NDJSON: {"type": "start"}, {"type": "audio", ...} per chunk in order, {"type": "end"|"error"}.

        Each chunk is computed in the thread pool; a client that goes away cancels this generator
        at its next ``await``, which frees the request's slot (the chunk being computed finishes)."""
        pieces = []
        chunks = iter(speech)
        try:
            yield _line({"type": "start", "sample_rate": speech.sample_rate, "sentences": speech.sentences,
                         "voice": voice.name, "format": "pcm16le mono, base64"})
            while True:
                chunk = await run_in_threadpool(next, chunks, None)
                if chunk is None:
                    break
                samples = to_int16(chunk.wav)
                pieces.append(samples)
                yield _line({"type": "audio", "index": chunk.index, "sentence": chunk.sentence,
                             "samples": int(samples.size), "last": chunk.last,
                             "seconds_since_start": chunk.seconds_since_start,
                             "pcm16": base64.b64encode(samples.tobytes()).decode("ascii")})
            report = service.record(req, speech, voice, language,
                                    np.concatenate(pieces) if pieces else np.zeros(0, np.int16))
            yield _line({"type": "end", "report": report})
        except RequestTimeout as e:
            yield _line({"type": "error", "status": 503, "error": str(e)})
        except Exception as e:  # the stream has started: the error goes in the stream
            log.exception("stream failed")
            yield _line({"type": "error", "status": 500, "error": f"{type(e).__name__}: {e}"})
        finally:
            service.release()

    return app


def _line(obj: dict) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
