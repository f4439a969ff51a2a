"""Serve one checkpoint over HTTP: synthesis (whole wav or streamed), voices, a web page.

    python -m valle.bin.serve --checkpoint exp/valle/best-valid-loss.pt --voices-dir exp/valle/voices
    # then open http://127.0.0.1:8000/ or:
    curl -s localhost:8000/synthesize -d '{"text": "Hello there.", "voice": "alice"}' -o out.wav

Voices are ``<name>.wav`` + ``<name>.txt`` (+ ``<name>.lang``) in ``--voices-dir``. Endpoints,
request fields, limits and the stream format: docs/serving.md.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

from valle.codec.options import add_codec_option
from valle.infer.precision_options import add_precision_options
from valle.utils.logging_setup import setup_logging

log = logging.getLogger("valle.serve")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m valle.bin.serve", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("model")
    g.add_argument("--checkpoint", type=Path, default=None, help="checkpoint with a trained AR and NAR")
    g.add_argument("--ar-checkpoint", type=Path, default=None, help="checkpoint of --train-stage 1 (AR)")
    g.add_argument("--nar-checkpoint", type=Path, default=None, help="checkpoint of --train-stage 2 (NAR)")
    g.add_argument("--model-preset", default=None, help="preset for files without a stored config (vallex)")
    g.add_argument("--text-tokenizer", default="auto", choices=["auto", "espeak", "pinyin", "openjtalk", "vallex"])
    add_codec_option(g, help_suffix="; default: the codec the checkpoint was trained on")
    g.add_argument("--device", default="cpu")
    add_precision_options(g)
    g.add_argument("--language", default="en-us", help="language of requests that name none")
    g.add_argument("--max-seconds", type=float, default=0.0,
                   help="prompt + output of one sentence at most this long; 0 = the checkpoint's training maximum "
                        "(its --filter-max-duration)")
    g = p.add_argument_group("server")
    g.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 = every interface)")
    g.add_argument("--port", type=int, default=8000)
    g.add_argument("--voices-dir", type=Path, default=Path("voices"), help="folder of <name>.wav + <name>.txt")
    g.add_argument("--work-dir", type=Path, default=None,
                   help="where result wavs are kept for scoring (default: a new temporary folder)")
    g.add_argument("--metrics", choices=["auto", "none"], default="auto",
                   help="score the last results (WER, similarity, DNSMOS) when the backends load")
    g.add_argument("--keep-results", type=int, default=5, help="results listed by GET /results")
    g = p.add_argument_group("limits")
    g.add_argument("--max-text-chars", type=int, default=2000)
    g.add_argument("--max-concurrent", type=int, default=2, help="requests synthesizing at once; more get 429")
    g.add_argument("--request-timeout", type=float, default=120.0, help="compute seconds per request")
    g.add_argument("--max-prompt-seconds", type=float, default=15.0, help="longest uploaded prompt")
    g = p.add_argument_group("streaming")
    g.add_argument("--chunk-frames", type=int, default=0, help="AR frames between the first stream chunks (0 = 1 s)")
    g.add_argument("--chunk-growth", type=float, default=1.5,
                   help="each next chunk this much longer, up to 3 s (fewer NAR re-runs on long sentences)")
    g.add_argument("--nar-lookahead", type=int, default=10, help="newest frames held back from each NAR window")
    g.add_argument("--log-level", default="info")
    return p


def build_service(args):
    from valle.infer.streaming import StreamOptions
    from valle.infer.synthesizer import Synthesizer
    from valle.serve.app import SpeechService
    from valle.serve.requests import Limits
    from valle.serve.results import RecentResults
    from valle.serve.voices import PromptFolder

    synth = Synthesizer.from_checkpoints(checkpoint=args.checkpoint, ar_checkpoint=args.ar_checkpoint,
                                         nar_checkpoint=args.nar_checkpoint, model_preset=args.model_preset,
                                         device=args.device, tokenizer=args.text_tokenizer, codec=args.codec,
                                         dtype=args.dtype, quantize=args.quantize)
    synth.model.eval()

    limits = Limits(max_text_chars=args.max_text_chars, max_concurrent=args.max_concurrent,
                    request_timeout=args.request_timeout, max_prompt_seconds=args.max_prompt_seconds)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="valle-serve-"))
    work.mkdir(parents=True, exist_ok=True)
    results = RecentResults(args.keep_results, work, args.metrics)
    return SpeechService(synth, PromptFolder(args.voices_dir, synth), limits, args.language, results,
                         train_args=synth.train_args,
                         stream=StreamOptions(chunk_frames=args.chunk_frames, chunk_growth=args.chunk_growth,
                                              nar_lookahead=args.nar_lookahead),
                         max_seconds=args.max_seconds)


def check_args(args) -> List[str]:
    problems = []
    if args.max_concurrent < 1:
        problems.append(f"--max-concurrent must be >= 1, got {args.max_concurrent}")
    if args.max_text_chars < 1 or args.request_timeout <= 0:
        problems.append("--max-text-chars must be >= 1 and --request-timeout > 0")
    if not args.voices_dir.is_dir():
        problems.append(f"--voices-dir {args.voices_dir} is not a folder: create it and put <name>.wav + <name>.txt "
                        "voice prompts in it (an empty folder is fine: the page can upload a prompt)")
    return problems


def build_server(args):
    """The ``uvicorn.Server`` for ``args`` (model loaded); ``.run()`` serves until stopped."""
    import uvicorn

    from valle.serve.app import create_app

    service = build_service(args)
    log.info("serving %s on http://%s:%d/ (voices: %s)", service.synth.sources.get("ar"), args.host, args.port,
             ", ".join(service.voices.names()) or "none")
    config = uvicorn.Config(create_app(service), host=args.host, port=args.port, log_level=args.log_level.lower(),
                            timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    problems = check_args(args)
    if problems:
        raise SystemExit("error: " + "; ".join(problems))
    try:
        server = build_server(args)
    except (OSError, ValueError, RuntimeError) as e:
        raise SystemExit(f"error: {e}") from None
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
