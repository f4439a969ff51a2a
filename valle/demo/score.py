"""Score the demo's synthesized sentence: does pocketsphinx, held to the demo grammar, hear it?

Why: a listener is not always at hand, and "it ran" is not "it speaks".  The demo's sentence
is one the model never heard (a held-out sentence of valle/demo/grammar.py), so recognising
its words means the model learned to say words, not to replay utterances.  The same sentence
spoken by espeak-ng and passed through codec2 (encode + decode) is scored beside it: that is
the best any codec2 model can do, so the two numbers read together.

Prints a small table and writes ``--output`` (JSON) atomically.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from valle.utils.atomic import atomic_write_text


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m valle.demo.score", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--wav", type=Path, required=True, help="the synthesized sentence")
    p.add_argument("--text", required=True, help="what it should say")
    p.add_argument("--reference-wav", type=Path, required=True,
                   help="the same sentence spoken by espeak-ng (scored after codec2 resynthesis)")
    p.add_argument("--codec", default="codec2:1200", help="the codec the model speaks (the reference is resynthesized with it)")
    p.add_argument("--output", type=Path, default=None, help="JSON result (default: WAV with .score.json)")
    return p


def score_sentence(asr, wav, sample_rate: int, text: str) -> dict:
    from valle.eval.wer import utterance_errors

    hyp = asr.transcribe(wav, sample_rate) if len(wav) else ""  # nothing said: nothing heard
    errors = utterance_errors(text, hyp)
    words = len(text.split())
    return {"hypothesis": hyp, "wer": round(errors.rate, 4),
            "words_recognised": max(0, words - errors.errors), "words": words}


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    from valle.codec import load_codec
    from valle.demo.grammar import jsgf
    from valle.eval.asr import load_asr

    from valle.eval.audio import AudioInputError, read_audio

    try:
        wav, sr = read_audio(args.wav, "--wav", allow_empty=True)  # an empty output: nothing said
        ref, ref_sr = read_audio(args.reference_wav, "--reference-wav")
    except AudioInputError as e:
        raise SystemExit(f"error: {e}") from None
    codec = load_codec(args.codec)
    resynth = codec.decode(codec.encode(ref, ref_sr)).numpy().reshape(-1)
    asr = load_asr("pocketsphinx", grammar=jsgf(), dither=True)  # dither: espeak-ng's digital silence
    result = {
        "text": args.text,
        "asr": "pocketsphinx en-us + the demo grammar (JSGF)",
        "model": score_sentence(asr, wav, sr, args.text),
        "codec2_resynthesis": score_sentence(asr, resynth, codec.sample_rate, args.text),
    }
    out = args.output or args.wav.with_suffix(".score.json")
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    print(f"  sentence (never in training): {args.text!r}")
    for name, key in (("the model's output", "model"), ("codec2 resynthesis", "codec2_resynthesis")):
        r = result[key]
        print(f"  {name:<29} WER {100 * r['wer']:5.1f}%  ({r['words_recognised']}/{r['words']} words)  "
              f"heard: {r['hypothesis']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
