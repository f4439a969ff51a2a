"""Synthesize speech with a trained (or published VALL-E X) checkpoint.

One sentence:
    python -m valle.bin.infer --checkpoint exp/valle/best.pt --text-prompt "prompt words" \
        --audio-prompt me.mp3 --text "Text to say." --output out.wav
Stages trained apart: ``--ar-checkpoint A.pt --nar-checkpoint N.pt`` instead of ``--checkpoint``.
Batch: ``--tsv list.tsv`` with lines ``prompt_text<TAB>prompt_audio<TAB>text<TAB>out_wav``
(relative paths are resolved against the TSV's folder; a header line starting with
``prompt_text`` is skipped); ``--batch-size N`` sentences are decoded together (valle/infer/batch_synthesis.py).

Each output ``X.wav`` (mono, 16-bit, at the codec's rate unless ``--output-rate``) gets a sidecar
``X.json`` with the options, the frames, the real-time factor and the codec that decoded it (the
checkpoint's own codec: Encodec 24 kHz or codec2 8 kHz).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import List, Optional

import torch

from valle.codec.options import add_codec_option
from valle.infer.precision_options import add_precision_options
from valle.utils.cli import str2bool
from valle.utils.logging_setup import setup_logging

log = logging.getLogger("valle.infer")

BANNER = "=" * 78


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m valle.bin.infer",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("model")
    g.add_argument("--checkpoint", type=Path, default=None,
                   help="checkpoint with a trained AR and NAR (train stage 0, or a published VALL-E X file)")
    g.add_argument("--ar-checkpoint", type=Path, default=None, help="checkpoint of --train-stage 1 (AR)")
    g.add_argument("--nar-checkpoint", type=Path, default=None, help="checkpoint of --train-stage 2 (NAR)")
    g.add_argument("--model-preset", default=None,
                   help="preset for checkpoints without a stored model_config (published VALL-E X: vallex)")
    g.add_argument("--text-tokenizer", default="auto", choices=["auto", "espeak", "pinyin", "openjtalk", "vallex"],
                   help="text frontend; auto = vallex for the 70-symbol table, else the one training used")
    add_codec_option(g, help_suffix="; default: the codec the checkpoint was trained on (another codec is refused)")
    g.add_argument("--skip-unusable", type=str2bool, default=False,
                   help="exit 0 with a 'skipped: why' line when the codec's weights are missing or the "
                        "checkpoint's NAR was never trained (run.sh stage 3: training succeeded regardless)")
    g.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to run")
    add_precision_options(g)
    g.add_argument("--allow-untrained", type=str2bool, default=False,
                   help="synthesize even with a --checkpoint whose AR was never trained (true|false)")

    g = p.add_argument_group("input")
    g.add_argument("--text", default=None, help="text to say (long text is split into sentences)")
    g.add_argument("--text-prompt", default="", help="transcript of --audio-prompt")
    g.add_argument("--audio-prompt", type=Path, default=None,
                   help="prompt recording of the voice (any format, rate, channels)")
    g.add_argument("--voice", default=None,
                   help="a saved voice (python -m valle.bin.make_voice) instead of --audio-prompt/--text-prompt: "
                        "its name in --voices-dir, or a .voice.npz file")
    g.add_argument("--voices-dir", type=Path, default=None,
                   help="folder of named voices (default: voices/ beside the checkpoint, where run.sh saves them)")
    g.add_argument("--prompt-seconds", type=float, default=0.0,
                   help="longest prompt accepted, in seconds: a longer one is refused, never cut away from its "
                        "transcript (0 = any length; above 10 s a warning)")
    g.add_argument("--language", default="en-us",
                   help="language of --text (espeak voice code such as en-us, de; zh, ja); inline "
                        "[EN]..[EN] tags override it with the vallex tokenizer")
    g.add_argument("--prompt-language", default=None, help="language of --text-prompt (default: --language)")
    g.add_argument("--output", type=Path, default=Path("out.wav"), help="output wav (mono, at --output-rate)")
    g.add_argument("--output-rate", type=int, default=0,
                   help="sample rate of the output wavs (0 = the codec's: 24000 Encodec, 8000 codec2)")
    g.add_argument("--tsv", type=Path, default=None,
                   help="batch mode: prompt_text<TAB>prompt_audio<TAB>text<TAB>out_wav per line")
    g.add_argument("--batch-size", type=int, default=8,
                   help="with --tsv: sentences decoded together per model call (1 = row by row; greedy codes "
                        "are the same either way; with --rerank rows run one by one)")

    g = p.add_argument_group("decoding")
    g.add_argument("--top-k", type=int, default=0, help="sample from the k most likely codes (0 = all)")
    g.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1.0 = off)")
    g.add_argument("--temperature", type=float, default=1.0, help="AR sampling temperature")
    g.add_argument("--seed", type=int, default=42, help="random seed for sampling (reproducible outputs)")
    g.add_argument("--best-of", type=int, default=1,
                   help="sample N AR continuations and keep the one with the highest likelihood "
                        "(with --rerank: N whole candidates, kept by ASR/speaker score)")
    g.add_argument("--rerank", default="none", choices=["none", "asr", "similarity", "both"],
                   help="with --best-of N: keep the candidate with the lowest WER (asr), the voice closest "
                        "to the prompt (similarity), or similarity - WER (both); docs/evaluation.md")
    g.add_argument("--rerank-asr", default="pocketsphinx", help="ASR for --rerank (valle.bin.evaluate --asr)")
    g.add_argument("--rerank-speaker", default="resemblyzer", help="speaker model for --rerank")
    g.add_argument("--use-kv-cache", type=str2bool, default=True, help="cache AR keys/values (true|false)")
    g.add_argument("--continual", type=str2bool, default=False,
                   help="continue the prompt audio: the output starts with the prompt itself (true|false)")
    g.add_argument("--max-len-ratio", type=float, default=16.0,
                   help="length guard: stop after this many frames per text token (prompt + target)")
    g.add_argument("--min-len-ratio", type=float, default=0.0,
                   help="no end-of-speech before this many frames per target-text token (0 = off); "
                        "keeps an under-trained model from stopping at once")
    g.add_argument("--max-sentence-chars", type=int, default=200,
                   help="split text into sentence chunks of at most this many characters (0 = no split)")
    g.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def read_tsv(path: Path) -> List[dict]:
    """Rows of a batch TSV with paths resolved against its folder; bad lines name their number."""
    if not path.is_file():
        raise ValueError(f"--tsv {path} does not exist")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):  # -sig: a leading BOM goes
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if n == 1 and cols[0].strip().lower() == "prompt_text":
            continue
        if len(cols) != 4:
            raise ValueError(
                f"--tsv {path} line {n} has {len(cols)} tab-separated columns, expected 4: "
                "prompt_text<TAB>prompt_audio<TAB>text<TAB>out_wav (leave prompt columns empty for none)"
            )
        prompt_text, prompt_audio, text, out = (c.strip() for c in cols)
        if not text or not out:
            raise ValueError(f"--tsv {path} line {n}: the text and out_wav columns must not be empty")
        rows.append({
            "prompt_text": prompt_text,
            "prompt_audio": (path.parent / prompt_audio) if prompt_audio else None,
            "text": text,
            "output": path.parent / out,
            "line": n,
        })
    if not rows:
        raise ValueError(f"--tsv {path} has no rows")
    return rows


def check_prompt_pairs(rows: List[dict]) -> None:
    """An audio prompt needs its transcript: the model reads the prompt's text before the target's."""
    for row in rows:
        if row["prompt_audio"] is not None and not (row["prompt_text"] or "").strip():
            where = f"--tsv line {row['line']}: the prompt_text column" if row["line"] else "--text-prompt"
            raise ValueError(f"{where} is empty but an audio prompt ({row['prompt_audio']}) is given: the model "
                             "needs the prompt's transcript; pass the words said in the recording")


def load_checked_prompt(path, limit: float):
    """The prompt audio, whole, refused if longer than ``limit`` s (``audio_prompt.check_prompt_length``)."""
    if path is None:
        return None
    from valle.infer.audio_prompt import check_prompt_length, load_prompt_audio

    prompt = load_prompt_audio(path, max_seconds=0)
    check_prompt_length(prompt, limit, logging.getLogger("valle.bin.infer"))
    return prompt


def check_output_rows(rows: List[dict]) -> None:
    """Refuse, before any work, outputs that are devices/FIFOs/folders, that would overwrite a prompt (any
    row's), or that two rows (or a row's wav and another's .json sidecar) would both write."""
    from valle.utils.atomic import check_output_path

    def where(row) -> str:
        return f" (--tsv line {row['line']})" if row["line"] else ""

    def keys(path: Path) -> set:
        """What identifies a file: its real path, and (device, inode) when it exists (hard links)."""
        found = {os.path.realpath(path)}
        if path.exists():
            st = path.stat()
            found.add((st.st_dev, st.st_ino))
        return found

    prompt_of = {}  # key -> the row whose prompt it is (built once: a big TSV is checked in linear time)
    for r in rows:
        if r["prompt_audio"] is not None:
            for k in keys(Path(r["prompt_audio"])):
                prompt_of.setdefault(k, r)
    written = {}  # real path -> (what, row) of every file the rows write
    column = "out_wav" if any(r["line"] for r in rows) else "--output"
    for row in rows:
        out = check_output_path(row["output"], "--output")
        sidecar = check_output_path(Path(row["output"]).with_suffix(".json"), "--output's .json sidecar")
        if os.path.realpath(out) == os.path.realpath(sidecar):
            raise ValueError(f"{column} {row['output']}{where(row)} ends in .json, the name of its own metadata "
                             "sidecar: choose an output name ending in .wav")
        named = ((out, column, row["output"]), (sidecar, f"{column}'s .json sidecar", sidecar))
        for path, what, shown in named:
            owner = next((prompt_of[k] for k in keys(path) if k in prompt_of), None)
            if owner is not None:
                whose = "the" if owner is row else f"line {owner['line']}'s"
                raise ValueError(f"{what} {shown}{where(row)} is {whose} --audio-prompt file: writing it would "
                                 "overwrite your recording; choose another output path")
            key = os.path.realpath(path)
            if key in written:
                other_what, other = written[key]
                raise ValueError(f"{what} {shown}{where(row)} is also the {other_what} of line {other['line']}: "
                                 "each row needs its own out_wav (the later row would replace the earlier one's audio)")
            written[key] = (what, row)


def load_cli_voice(args, rows: List[dict]):
    """``--voice``: the saved voice (by name in --voices-dir, default voices/ beside the checkpoint, or a file);
    it replaces the prompt, so --audio-prompt/--text-prompt and TSV prompt columns must be empty."""
    if args.voice is None:
        return None
    from valle.voice import resolve_voice

    for row in rows:
        if row["prompt_audio"] is not None or (row["prompt_text"] or "").strip():
            where = f"--tsv line {row['line']} has prompt columns" if row["line"] else "--audio-prompt/--text-prompt"
            raise ValueError(f"--voice {args.voice} replaces the prompt but {where}: pass one or the other")
    model = args.checkpoint or args.ar_checkpoint
    voices_dir = args.voices_dir or (Path(model).parent / "voices" if model is not None else None)
    return resolve_voice(args.voice, voices_dir)


def write_outputs(synth, result, options, output: Path, output_rate: int = 0, **extra) -> dict:
    import soundfile as sf

    from valle.infer.checkpoint_codec import resample_output
    from valle.utils.atomic import atomic_path, atomic_write_text

    output = Path(output)
    rate = output_rate or result.sample_rate
    wav = resample_output(result.wav, result.sample_rate, rate)
    with atomic_path(output) as tmp:
        sf.write(str(tmp), wav.clamp(-1, 1).numpy(), rate, subtype="PCM_16", format="WAV")
    meta = synth.metadata(result, options, output=str(output), output_rate=rate, **extra)
    atomic_write_text(output.with_suffix(".json"), json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return meta


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    from valle.codec.encodec_model import CodecWeightsError
    from valle.infer.model_loading import UntrainedHalfError
    from valle.infer.synthesizer import SamplingOptions, Synthesizer

    if (args.text is None) == (args.tsv is None):
        raise SystemExit("error: pass exactly one of --text (one output) or --tsv (batch)")
    if args.text is not None and not args.text.strip():  # before seconds of model and codec loading
        raise SystemExit("error: empty --text: nothing to synthesize")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but no CUDA device is visible: use --device cpu")
    options = SamplingOptions(top_k=args.top_k, top_p=args.top_p, temperature=args.temperature,
                              best_of=args.best_of, use_kv_cache=args.use_kv_cache,
                              max_len_ratio=args.max_len_ratio, min_len_ratio=args.min_len_ratio,
                              seed=args.seed)
    try:
        options.validate()
        if not args.prompt_seconds >= 0:
            raise ValueError(f"--prompt-seconds must be >= 0 (0 = any length), got {args.prompt_seconds}")
        rows = read_tsv(args.tsv) if args.tsv else [{
            "prompt_text": args.text_prompt, "prompt_audio": args.audio_prompt,
            "text": args.text, "output": args.output, "line": None,
        }]
        check_prompt_pairs(rows)
        check_output_rows(rows)
        voice = load_cli_voice(args, rows)
        prompts = [load_checked_prompt(row["prompt_audio"], args.prompt_seconds) for row in rows]
    except ValueError as e:
        raise SystemExit(f"error: {e}")
    if args.batch_size < 1:
        raise SystemExit(f"error: --batch-size must be >= 1, got {args.batch_size}")
    if args.output_rate < 0:
        raise SystemExit(f"error: --output-rate must be > 0 (or 0 for the codec's rate), got {args.output_rate}")
    try:
        synth = Synthesizer.from_checkpoints(
            checkpoint=args.checkpoint, ar_checkpoint=args.ar_checkpoint, nar_checkpoint=args.nar_checkpoint,
            model_preset=args.model_preset, codec=args.codec, device=args.device,
            tokenizer=args.text_tokenizer, allow_untrained=args.allow_untrained,
            dtype=args.dtype, quantize=args.quantize,
        )
    except (CodecWeightsError, UntrainedHalfError) as e:
        if not args.skip_unusable:
            raise SystemExit(f"error: {e}")
        print(f"skipped: nothing synthesized: {e}", file=sys.stderr, flush=True)
        return 0
    except (ValueError, RuntimeError, OSError) as e:
        raise SystemExit(f"error: {e}")
    if synth.codec_is_random:
        print(f"{BANNER}\nWARNING: the codec runs with RANDOM weights (--codec {synth.codec_weights}).\n"
              f"The wav is plumbing output, not speech; the sidecar .json records this.\n{BANNER}",
              file=sys.stderr, flush=True)
    reranker = rerank_scores = None
    if args.rerank != "none":
        from valle.eval.rerank import Reranker, best_of

        try:
            reranker = Reranker(args.rerank, args.rerank_asr, args.rerank_speaker, args.device)
        except (ValueError, RuntimeError) as e:
            raise SystemExit(f"error: {e}")
    totals = [0.0, 0.0]  # audio seconds, compute seconds

    def wrote(row, result, rerank_scores=None):
        write_outputs(synth, result, options, row["output"], args.output_rate, text=row["text"],
                      prompt_text=voice.text if voice else row["prompt_text"],
                      prompt_audio=str(row["prompt_audio"]) if row["prompt_audio"] else None,
                      language=args.language, prompt_language=args.prompt_language or args.language,
                      continual=args.continual, **({"voice": voice.summary()} if voice else {}),
                      **({"rerank": {"mode": args.rerank, "candidates": rerank_scores}} if rerank_scores else {}),
                      **({"batch_size": args.batch_size} if batched else {}))
        totals[0] += result.seconds
        totals[1] += result.compute_seconds
        guard = (f", LENGTH GUARD HIT in chunk(s) {result.length_guard_hits}"
                 if result.length_guard_hits else "")
        print(f"wrote {row['output']}: {result.seconds:.2f} s audio, {result.generated_frames} frames, "
              f"{result.compute_seconds:.2f} s compute, RTF {result.rtf:.3f}{guard}", flush=True)

    batched = args.tsv is not None and args.batch_size > 1 and reranker is None
    if batched:
        from valle.infer.batch_synthesis import BatchRowError, synthesize_batched

        requests = [dict(text=row["text"], prompt_text=row["prompt_text"], prompt_audio=prompt,
                         language=args.language, prompt_language=args.prompt_language, continual=args.continual,
                         max_sentence_chars=args.max_sentence_chars, prompt_seconds=args.prompt_seconds,
                         voice=voice) for row, prompt in zip(rows, prompts)]
        try:
            synthesize_batched(synth, requests, options, args.batch_size, lambda i, res: wrote(rows[i], res))
        except BatchRowError as e:
            raise SystemExit(f"error (--tsv line {rows[e.index]['line']}): {e}")
        except (ValueError, RuntimeError, OSError) as e:
            raise SystemExit(f"error: {e}")
    for row, prompt in ([] if batched else zip(rows, prompts)):
        where = f" (--tsv line {row['line']})" if row["line"] else ""
        try:
            def run(opts, row=row, prompt=prompt):
                return synth.synthesize(
                    row["text"], prompt_text=row["prompt_text"], prompt_audio=prompt,
                    language=args.language, prompt_language=args.prompt_language, options=opts,
                    continual=args.continual, max_sentence_chars=args.max_sentence_chars,
                    prompt_seconds=args.prompt_seconds, voice=voice,
                )
            if reranker is None:
                result = run(options)
            else:
                ptext = voice.text if voice else row["prompt_text"]
                said = f"{ptext} {row['text']}" if args.continual else row["text"]  # continual: prompt first
                result, rerank_scores = best_of(run, options, args.best_of, reranker, said, args.language,
                                                (voice.wav(), voice.sample_rate) if voice else row["prompt_audio"],
                                                synth.codec.sample_rate)
        except (ValueError, KeyError, RuntimeError, OSError) as e:
            msg = e.args[0] if isinstance(e, KeyError) and e.args else e
            raise SystemExit(f"error{where}: {msg}")
        wrote(row, result, rerank_scores)
    if len(prompts) > 1 and totals[0] > 0:
        print(f"total: {len(prompts)} files, {totals[0]:.2f} s audio, RTF {totals[1] / totals[0]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
