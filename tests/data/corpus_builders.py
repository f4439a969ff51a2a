"""Helpers that build tiny corpora for the data-preparation tests (sox, file writing, LibriTTS tree).

A plain module with a unique name (not conftest) so test files can import it unambiguously.
"""
from __future__ import annotations

import subprocess
from pathlib import Path


def sox(*args) -> None:
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def truncate(src: Path, dst: Path, keep_fraction: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep_fraction)])
    return dst


def build_libritts_tree(root: Path, make_speech, parts=("dev-clean", "train-clean-100"), per_part=2) -> Path:
    """A real-layout LibriTTS tree: <root>/LibriTTS/<part>/<spk>/<chap>/<utt>.wav with
    .normalized.txt/.original.txt and the chapter's .trans.tsv/.book.tsv that lhotse reads."""
    sentences = ["Mister Smith paid five dollars.", "It was a bright cold day in April.",
                 "The clocks were striking thirteen.", "She sells sea shells by the sea shore."]
    base = root / "LibriTTS"
    for pi, part in enumerate(parts):
        spk, chap = str(100 + pi), str(2000 + pi)
        cdir = base / part / spk / chap
        trans, book = [], []
        for i in range(per_part):
            utt = f"{spk}_{chap}_{i:06d}_000000"
            text = sentences[(pi * per_part + i) % len(sentences)]
            original = text.replace("Mister", "Mr.").replace("five dollars", "$5")
            make_speech(text, cdir / f"{utt}.wav", rate=24000)
            write(cdir / f"{utt}.normalized.txt", text)
            write(cdir / f"{utt}.original.txt", original)
            trans.append(f"{utt}\t{original}\t{text}")
            book.append(f"{utt}\t{original}\t{text}\t{original}\t{text}\tTrue\t21.5")
        write(cdir / f"{spk}_{chap}.trans.tsv", "\n".join(trans) + "\n")
        write(cdir / f"{spk}_{chap}.book.tsv", "\n".join(book) + "\n")
    return base
