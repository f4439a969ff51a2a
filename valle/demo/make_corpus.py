"""Make the built-in demo corpus: the project's own sentences spoken by a few espeak-ng voices.

Why: ``make demo`` must run on a machine with no network and no corpus.  espeak-ng is a real
(formant) synthesizer with distinct voices, so the corpus has real speech-like audio, several
"speakers" for the acoustic prompt to choose between, and transcripts that match exactly.

``--sentences builtin`` speaks valle/demo/sentences.txt; ``--sentences grammar`` speaks
``--num-sentences`` random sentences of the small grammar (valle/demo/grammar.py) with the
``GRAMMAR_VOICES`` (ones pocketsphinx recognises reliably), the corpus a
model learns to speak in minutes, and also ``--num-heldout`` sentences that are *not* in the
corpus into ``--heldout-dir`` (same layout, ``heldout.tsv`` lists them): the test set of the
demo and of bench/learn.py.  ``--trim-silence`` (default for the grammar) cuts espeak-ng's
leading and trailing silence, which a prompt must not end with (DESIGN.md, learning probes).

The corpus is written in the LibriTTS layout that ``prepare.sh``'s custom recipe detects:
``<speaker>/<chapter>/<speaker>_<chapter>_<nnnnnn>.wav`` with ``.normalized.txt`` beside each.
Reruns skip files that exist for the same voice settings (a ``corpus.json`` stamp records them),
and every file is written atomically, so a killed run resumes cleanly.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Optional

import numpy as np
import soundfile as sf

from valle.demo.grammar import jsgf, split_sentences
from valle.utils.atomic import atomic_path, atomic_write_text
from valle.utils.logging_setup import setup_logging

log = logging.getLogger(__name__)

SENTENCES_FILE = Path(__file__).with_name("sentences.txt")

# (speaker id, espeak-ng voice[+variant], words per minute, pitch 0-99): a few clearly different voices.
VOICES = [
    ("1001", "en-us", 165, 45),
    ("1002", "en-gb", 150, 35),
    ("1003", "en-us+f3", 175, 60),
    ("1004", "en-gb-scotland+m3", 160, 40),
]
# The grammar corpus's voices: pocketsphinx (grammar) recognised each on 16 held-out sentences with
# WER <= 4% on the espeak-ng audio and <= 6% after codec2 resynthesis; the male espeak-ng voices
# scored 20-60% on the espeak audio itself (docs/benchmarks.md, "bench/learn.py").
GRAMMAR_VOICES = [
    ("2001", "en-us+f2", 150, 35),
    ("2002", "en-us+f1", 165, 50),
    ("2003", "en-us+f5", 165, 50),
    ("2004", "en-us+f2", 180, 70),
]
CHAPTER = "1"


def read_sentences(path: Path = SENTENCES_FILE) -> List[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m valle.demo.make_corpus",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--output-dir", type=Path, default=Path("demo/corpus"), help="corpus folder to write")
    p.add_argument("--num-voices", type=int, default=len(VOICES), help=f"how many of the {len(VOICES)} voices")
    p.add_argument("--sentences", choices=["builtin", "grammar"], default="builtin",
                   help="valle/demo/sentences.txt, or random sentences of valle/demo/grammar.py")
    p.add_argument("--num-sentences", type=int, default=0,
                   help="builtin: the first N sentences (0 = all); grammar: N training sentences (0 = 300)")
    p.add_argument("--num-heldout", type=int, default=40, help="grammar: sentences kept out of the corpus")
    p.add_argument("--heldout-dir", type=Path, default=None, help="grammar: where they go (default OUTPUT_DIR_heldout)")
    p.add_argument("--grammar-seed", type=int, default=0, help="grammar: which sentences are drawn")
    p.add_argument("--trim-silence", choices=["auto", "yes", "no"], default="auto",
                   help="cut leading/trailing silence (auto: yes for the grammar, no for builtin)")
    p.add_argument("--num-jobs", type=int, default=2, help="parallel espeak-ng processes")
    return p


def trim_silence(wav: np.ndarray, sample_rate: int, floor_db: float = 40.0, margin_s: float = 0.03) -> np.ndarray:
    """Cut leading and trailing 10 ms frames quieter than ``floor_db`` below the loudest, keeping a margin."""
    hop = max(1, sample_rate // 100)
    frames = len(wav) // hop
    if frames == 0:
        return wav
    energy = 10 * np.log10((wav[: frames * hop].reshape(frames, hop).astype(np.float64) ** 2).mean(1) + 1e-12)
    loud = np.flatnonzero(energy > energy.max() - floor_db)
    margin = int(margin_s * sample_rate)
    return wav[max(0, loud[0] * hop - margin): min(len(wav), (loud[-1] + 1) * hop + margin)]


def _speak(exe: str, voice: str, wpm: int, pitch: int, text: str, wav: Path, trim: bool) -> None:
    with atomic_path(wav) as tmp:
        subprocess.run([exe, "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", str(tmp), text],
                       check=True, capture_output=True)
        if trim:
            audio, sr = sf.read(str(tmp), dtype="int16")
            sf.write(str(tmp), trim_silence(audio, sr), sr, format="WAV", subtype="PCM_16")


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("error: espeak-ng is not installed: run `make setup` (apt-get install espeak-ng)")
    if not 1 <= args.num_voices <= len(VOICES):
        raise SystemExit(f"error: --num-voices must be in 1..{len(VOICES)}, got {args.num_voices}")
    grammar = args.sentences == "grammar"
    trim = args.trim_silence == "yes" or (args.trim_silence == "auto" and grammar)
    voices = (GRAMMAR_VOICES if grammar else VOICES)[: args.num_voices]
    heldout: List[str] = []
    if grammar:
        sentences, heldout = split_sentences(args.num_sentences or 300, args.num_heldout, args.grammar_seed)
    else:
        sentences = read_sentences()
        if args.num_sentences > 0:
            sentences = sentences[: args.num_sentences]
    out: Path = args.output_dir
    sets = [(out, sentences)]
    if heldout:
        hdir = args.heldout_dir or out.with_name(out.name + "_heldout")
        sets.append((hdir, heldout))
    for folder, texts in sets:
        speak_sentences(exe, folder, voices, texts, trim, args.num_jobs)
    if grammar:
        atomic_write_text(out / "grammar.jsgf", jsgf())
    if heldout:
        rows = [f"{spk}_{CHAPTER}_{i:06d}\t{spk}\t{text}" for spk, *_ in voices for i, text in enumerate(heldout)]
        atomic_write_text(hdir / "heldout.tsv", "id\tspeaker\ttext\n" + "\n".join(rows) + "\n")
    return 0


def speak_sentences(exe: str, out: Path, voices, sentences: List[str], trim: bool, num_jobs: int) -> None:
    """Speak ``sentences`` with ``voices`` into ``out`` (LibriTTS layout), skipping what is there."""
    stamp = {"voices": voices, "sentences": sentences, "trim_silence": trim}
    stamp_file = out / "corpus.json"
    if stamp_file.is_file():
        try:
            old = json.loads(stamp_file.read_text())
        except json.JSONDecodeError:
            old = None
        if old != json.loads(json.dumps(stamp)):
            log.info("%s was made with other settings: rebuilding it", out)
            for spk, *_ in VOICES + GRAMMAR_VOICES:
                shutil.rmtree(out / spk, ignore_errors=True)
            stamp_file.unlink()

    jobs = []
    for spk, voice, wpm, pitch in voices:
        folder = out / spk / CHAPTER
        for i, text in enumerate(sentences):
            stem = folder / f"{spk}_{CHAPTER}_{i:06d}"
            wav, txt = stem.with_suffix(".wav"), Path(str(stem) + ".normalized.txt")
            if not txt.is_file() or txt.read_text(encoding="utf-8").strip() != text:
                atomic_write_text(txt, text + "\n")
            if not wav.is_file() or wav.stat().st_size < 1000:
                jobs.append((voice, wpm, pitch, text, wav, trim))
    with ThreadPoolExecutor(max(1, num_jobs)) as ex:
        list(ex.map(lambda j: _speak(exe, *j), jobs))
    text = json.dumps(stamp, indent=1) + "\n"
    if not stamp_file.is_file() or stamp_file.read_text() != text:  # untouched on reruns
        atomic_write_text(stamp_file, text)
    total = len(voices) * len(sentences)
    log.info("%s: %d utterances (%d voices x %d sentences), %d synthesized now, %d already there",
             out, total, len(voices), len(sentences), len(jobs), total - len(jobs))


if __name__ == "__main__":
    sys.exit(main())
