"""Save a reusable voice: a speaker's clean 3-10 s clip with its codes and text tokens (docs/inference.md).

From prepared data (the best whole utterance of a speaker, scored by DNSMOS and voice similarity):
    python -m valle.bin.make_voice --tokenized-dir data/tokenized --speaker 1089 --voices-dir exp/valle/voices
    python -m valle.bin.make_voice --tokenized-dir data/tokenized --all-speakers --voices-dir exp/valle/voices
From a recording (transcribed with pocketsphinx when --text is not given; English):
    python -m valle.bin.make_voice --wav me.wav [--text "What I say."] --name me \
        --checkpoint exp/valle/best-valid-loss.pt --voices-dir exp/valle/voices
For another model (re-encode the clip, re-tokenize the transcript):
    python -m valle.bin.make_voice --from-voice me --checkpoint other.pt --name me-other --voices-dir DIR
List a folder:  python -m valle.bin.make_voice --list exp/valle/voices
Use it:         python -m valle.bin.infer --checkpoint ... --voice me --text "Hello."
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np

from valle.codec.options import add_codec_option
from valle.utils.cli import add_tokenized_dir_option
from valle.utils.logging_setup import setup_logging

log = logging.getLogger("valle.make_voice")


class NothingToVoice(ValueError):
    """The data hold no utterance a voice can be made of (``--skip-unusable``: a skip, not an error)."""


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m valle.bin.make_voice", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("where the clip comes from (one of)")
    g.add_argument("--speaker", default=None,
                   help="with --tokenized-dir: the speaker id; with --wav: the speaker name recorded in the voice")
    g.add_argument("--all-speakers", action="store_true",
                   help="with --tokenized-dir: one voice per speaker of the first --cuts file that exists (speakers "
                        "without a fitting utterance are listed as skipped)")
    g.add_argument("--wav", type=Path, default=None, help="a recording of the speaker (any format, rate, channels)")
    g.add_argument("--text", default=None,
                   help="with --wav: what the recording says (default: transcribed with --asr)")
    g.add_argument("--from-voice", default=None,
                   help="an existing voice (name in --voices-dir, or a file) to make again for --checkpoint")
    g.add_argument("--list", type=Path, default=None, metavar="DIR", help="list the voices in DIR and exit")
    g = p.add_argument_group("the model the voice is for (codec, symbol table, tokenizer)")
    add_tokenized_dir_option(g, help=": its cuts, codec and symbol table")
    g.add_argument("--checkpoint", type=Path, default=None, help="a checkpoint: its codec and symbol table")
    g.add_argument("--model-preset", default=None, help="for checkpoints without a stored config (published VALL-E X)")
    add_codec_option(g, help_suffix="; default: the data's or the checkpoint's codec (another codec is refused)")
    g.add_argument("--cuts", nargs="+", default=["dev", "train"],
                   help="with --tokenized-dir: which cuts_<split>.jsonl.gz (or files) hold the candidates")
    g = p.add_argument_group("choosing the clip")
    g.add_argument("--language", default="en-us", help="with --wav: language of the recording (espeak code, zh, ja)")
    g.add_argument("--min-seconds", type=float, default=3.0, help="shortest clip after trimming silence")
    g.add_argument("--max-seconds", type=float, default=10.0, help="longest clip after trimming silence")
    g.add_argument("--max-candidates", type=int, default=8, help="clips scored per speaker")
    g.add_argument("--quality", default="dnsmos", choices=["dnsmos", "none"], help="clip quality score")
    g.add_argument("--similarity", default="resemblyzer",
                   help="speaker model for the similarity to the speaker's other utterances (none = off)")
    g.add_argument("--asr", default="pocketsphinx:accurate",
                   help="recogniser for --wav without --text (the full search: a prompt text must be right)")
    g = p.add_argument_group("output")
    g.add_argument("--voices-dir", type=Path, default=None, help="folder of voices (<name>.voice.npz)")
    g.add_argument("--name", default=None, help="voice name (default: the speaker id); letters, digits, _ . -")
    g.add_argument("--output", type=Path, default=None, help="write the voice to this file instead of --voices-dir")
    g.add_argument("--skip-unusable", action="store_true",
                   help="exit 0 with a 'skipped: why' line when the codec's weights are missing or the cuts hold no "
                        "usable utterance (run.sh stage 3)")
    g.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    g.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def list_folder(folder: Path) -> int:
    from valle.voice import list_voices

    errors: list = []
    voices = list_voices(folder, errors)
    for v in voices:
        print(json.dumps(v.summary(), ensure_ascii=False))
    for name, why in errors:
        print(f"unusable: {name}: {why}", file=sys.stderr)
    print(f"{len(voices)} voice(s) in {folder}" + (f", {len(errors)} unusable" if errors else ""), file=sys.stderr)
    return 0


def _target(args):
    from valle.voice.voice_target import target_of_checkpoint, target_of_data

    if args.checkpoint is not None:
        return target_of_checkpoint(args.checkpoint, args.model_preset, args.codec)
    if args.tokenized_dir is not None:
        return target_of_data(args.tokenized_dir, args.codec)
    raise ValueError("say which model the voice is for: --checkpoint CKPT or --tokenized-dir data/tokenized")


def _out_path(args, name: str) -> Path:
    from valle.voice import check_voice_name, voice_path

    check_voice_name(name)
    if args.output is not None:
        return args.output
    if args.voices_dir is None:
        raise ValueError("pass --voices-dir DIR (or --output FILE) for the voice file")
    return voice_path(name, args.voices_dir)


def _save(args, clip, name: str, target, codec) -> Path:
    from valle.voice import save_voice
    from valle.voice.voice_build import build_voice, to_int16

    path = _out_path(args, name)
    voice = build_voice(name, clip.speaker, to_int16(clip.audio), clip.sample_rate, clip.text, clip.language,
                        target, codec, clip.tokens, clip.token_langs, clip.source)
    save_voice(path, voice)
    scores = clip.source.get("scores") or {}
    print(f"wrote {path}: voice {name!r}, speaker {clip.speaker}, {voice.seconds:.2f} s, "
          f"{voice.codes.shape[0]} frames, scores {scores}, text {voice.text!r}", flush=True)
    return path


def _clip_of_wav(args, scorer):
    from valle.infer.audio_prompt import load_prompt_audio
    from valle.voice.clip_pick import Clip, pick_from_recording
    from valle.voice.silence import trim_bounds

    asr = _asr(args) if args.text is None else None  # before any work: refuse a language it cannot hear
    prompt = load_prompt_audio(args.wav)
    wav = prompt.wav.numpy().mean(axis=0).astype(np.float32)
    sr = prompt.sampling_rate
    a, b = trim_bounds(wav, sr)
    if b <= a:
        raise ValueError(f"--wav {args.wav} holds no speech (only silence): record a few seconds of speech")
    seconds = (b - a) / sr
    source = {"kind": "wav", "path": str(args.wav)}
    if args.text is not None:
        if seconds > args.max_seconds:
            raise ValueError(
                f"--wav {args.wav} has {seconds:.1f} s of speech, more than --max-seconds {args.max_seconds:g}, and a "
                "transcript: cutting the audio would leave words of --text unheard. Trim the recording and its "
                "transcript together, or leave out --text to pick and transcribe a clip")
        scores = scorer.score(wav[a:b], sr)
    else:
        if seconds > args.max_seconds:
            a, b, scores = pick_from_recording(wav, sr, scorer, args.min_seconds, args.max_seconds,
                                               args.max_candidates)
        else:
            scores = scorer.score(wav[a:b], sr)
    if (b - a) / sr < args.min_seconds:
        raise ValueError(f"--wav {args.wav} has {(b - a) / sr:.1f} s of speech, under --min-seconds "
                         f"{args.min_seconds:g}: VALL-E prompts of 3-10 s work best; pass a longer recording "
                         "or lower --min-seconds")
    text = args.text
    if text is None:
        text, source["asr"] = _transcribe(args, asr, wav[a:b], sr)
    source.update(start=round(a / sr, 4), duration=round((b - a) / sr, 4), scores=scores,
                  scorers_off=dict(scorer.unavailable))
    return Clip(audio=wav[a:b], sample_rate=sr, speaker=args.speaker or args.name or args.wav.stem, text=text,
                language=args.language, source=source)


def _asr(args):
    from valle.eval.asr import load_asr, supports_language

    asr = load_asr(args.asr)
    if not supports_language(asr, args.language):
        raise ValueError(f"--asr {args.asr} does not recognise --language {args.language}: pass --text with "
                         "the words said in --wav")
    return asr


def _transcribe(args, asr, wav, sr):
    text = asr.transcribe(wav, sr).strip()
    if not text:
        raise ValueError(f"--asr {asr.name} heard no words in --wav {args.wav}: pass --text")
    log.info("transcribed with %s: %r (check it: a wrong transcript makes a bad prompt; pass --text to fix it)",
             asr.name, text)
    return text, asr.name


def _clip_of_voice(args):
    from valle.voice import resolve_voice
    from valle.voice.clip_pick import Clip

    old = resolve_voice(args.from_voice, args.voices_dir)
    source = {"kind": "voice", "voice": old.name, "was": old.source}
    return Clip(audio=old.wav(), sample_rate=old.sample_rate, speaker=old.speaker, text=old.text,
                language=old.language, source=source)


def _corpus_speakers(args, target, codec, scorer) -> int:
    from valle.voice import voice_names_for
    from valle.voice.clip_pick import pick_from_cuts, usable_cuts
    from valle.voice.voice_file import VoiceError

    files = [Path(c) if c.endswith(".gz") or "/" in c else args.tokenized_dir / f"cuts_{c}.jsonl.gz" for c in args.cuts]
    existing = [f for f in files if f.is_file()]
    if not existing:
        raise NothingToVoice(f"none of the --cuts files exists ({', '.join(map(str, files))}): pass prepared cuts "
                         "(prepare.sh stage 4 writes <tokenized-dir>/cuts_{train,dev,test}.jsonl.gz)")
    by_speaker = usable_cuts(existing)
    if args.all_speakers:  # the speakers of the first --cuts file there is (run.sh: dev, else train)
        speakers = list(usable_cuts(existing[:1]))
        if not speakers:
            raise NothingToVoice(f"--cuts {existing[0]} has no utterance with a transcript, stage-2 text tokens and "
                                 "audio (prepare.sh stages 2-4 make them)")
    else:
        if args.speaker is None:
            raise ValueError("--tokenized-dir needs --speaker ID or --all-speakers (or --wav for a recording)")
        if args.speaker not in by_speaker:
            known = sorted(by_speaker)
            raise ValueError(f"--speaker {args.speaker!r} has no usable utterance in {', '.join(map(str, files))} "
                             f"(speakers: {', '.join(known[:20])}{' ...' if len(known) > 20 else ''})")
        speakers = [args.speaker]
    if args.all_speakers and args.output is not None:
        raise ValueError("--all-speakers writes one voice per speaker into --voices-dir; --output names one file "
                         "(drop --output, or pick one speaker with --speaker)")
    names = voice_names_for(speakers)  # distinct even where two speaker ids map to one file name
    written = skipped = 0
    for speaker in speakers:
        name = args.name if (args.name and not args.all_speakers) else names[speaker]
        try:
            clip = pick_from_cuts(by_speaker[speaker], scorer, args.min_seconds, args.max_seconds,
                                  args.max_candidates)
        except VoiceError as e:
            if not args.all_speakers:
                raise
            print(f"skipped speaker {speaker}: {e}", flush=True)
            skipped += 1
            continue
        _save(args, clip, name, target, codec)
        written += 1
    if args.all_speakers:
        print(f"{written} voice(s) written, {skipped} speaker(s) skipped", flush=True)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    from valle.codec import CodecError
    from valle.codec.encodec_model import CodecWeightsError
    from valle.voice import VoiceError, voice_name_for
    from valle.voice.clip_scores import ClipScorer

    try:
        if args.list is not None:
            return list_folder(args.list)
        modes = [m for m, on in (("--wav", args.wav is not None), ("--from-voice", args.from_voice is not None),
                                 ("--speaker/--all-speakers", (args.speaker is not None or args.all_speakers)
                                  and args.wav is None)) if on]
        if len(modes) != 1:
            raise ValueError("pass one source of the clip: --tokenized-dir with --speaker ID or --all-speakers, "
                             f"--wav FILE, or --from-voice NAME (got: {', '.join(modes) or 'none'})")
        if not 0 < args.min_seconds <= args.max_seconds:
            raise ValueError(f"need 0 < --min-seconds <= --max-seconds, got {args.min_seconds:g} and {args.max_seconds:g}")
        if args.max_candidates < 1:
            raise ValueError(f"--max-candidates must be >= 1, got {args.max_candidates}")
        target = _target(args)
        try:
            codec = target.load_codec(args.device)
        except CodecWeightsError as e:
            if not args.skip_unusable:
                raise
            print(f"skipped: no voice made: {e}", file=sys.stderr, flush=True)
            return 0
        scorer = ClipScorer(args.quality, args.similarity, args.device)
        if args.wav is not None:
            _save(args, _clip_of_wav(args, scorer), args.name or voice_name_for(args.speaker or args.wav.stem),
                  target, codec)
            return 0
        if args.from_voice is not None:
            clip = _clip_of_voice(args)
            _save(args, clip, args.name or voice_name_for(clip.speaker), target, codec)
            return 0
        if args.tokenized_dir is None:
            raise ValueError("--speaker/--all-speakers pick from prepared data: pass --tokenized-dir data/tokenized")
        return _corpus_speakers(args, target, codec, scorer)
    except NothingToVoice as e:
        if not args.skip_unusable:
            raise SystemExit(f"error: {e}")
        print(f"skipped: no voice made: {e}", file=sys.stderr, flush=True)
        return 0
    except (VoiceError, CodecError, ValueError, OSError) as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    sys.exit(main())
