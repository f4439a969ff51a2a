"""Evaluation test lists in the VALL-E protocol, as a TSV a user can read and edit.

Columns (tab-separated, one header line)::

    id  mode  language  text  prompt_audio  prompt_text  reference_audio

- ``cross-sentence`` (VALL-E): the prompt is another utterance of the same speaker; the system
  says ``text`` in the prompt's voice; ``reference_audio`` is the speaker saying ``text``.
- ``continuation`` (VALL-E continual): the prompt is the first 3 s of the reference itself and
  ``prompt_text`` the words said in it; the system continues with ``text``.  Its output starts
  with the prompt (``--continual``), so its transcript is scored against ``prompt_text text``.

Relative paths resolve against the TSV's folder.  ``build_test_list`` picks utterances of
``min_seconds``..``max_seconds`` (LibriTTS test-clean 4-10 s in the paper) from a prepared
corpus's cuts with a fixed seed and writes their audio as wavs beside the list.
"""
from __future__ import annotations

import io
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

MODES = ("cross-sentence", "continuation")
COLUMNS = ("id", "mode", "language", "text", "prompt_audio", "prompt_text", "reference_audio")
CONTINUATION_PROMPT_SECONDS = 3.0


class TestListError(ValueError):
    """A test list that cannot be read, or cuts that cannot make one."""


@dataclass
class TestItem:
    id: str
    mode: str
    language: str
    text: str
    prompt_audio: str
    prompt_text: str
    reference_audio: str

    @property
    def spoken_text(self) -> str:
        """What a system's output should say (continuation outputs start with the prompt)."""
        if self.mode == "continuation":
            return " ".join(t for t in (self.prompt_text, self.text) if t)
        return self.text


def read_test_list(path) -> List[TestItem]:
    """Rows of a list TSV, paths made absolute; a malformed line names its number and the fix."""
    path = Path(path)
    if not path.is_file():
        raise TestListError(f"--list {path} does not exist: make one with --make-list (docs/evaluation.md)")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t")[: len(COLUMNS)] != list(COLUMNS):
        raise TestListError(f"--list {path}: the first line must be the header {' '.join(COLUMNS)} (tab-separated)")
    items, seen = [], set()
    for n, line in enumerate(lines[1:], 2):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != len(COLUMNS):
            raise TestListError(f"--list {path} line {n} has {len(cols)} tab-separated columns, expected {len(COLUMNS)}")
        row = dict(zip(COLUMNS, (c.strip() for c in cols)))
        if not row["id"] or row["id"] in seen or "/" in row["id"]:
            raise TestListError(f"--list {path} line {n}: id {row['id']!r} is empty, repeated or contains '/'")
        if row["mode"] not in MODES:
            raise TestListError(f"--list {path} line {n}: mode {row['mode']!r} is not one of {', '.join(MODES)}")
        seen.add(row["id"])
        for key in ("prompt_audio", "reference_audio"):
            if row[key]:
                row[key] = str((path.parent / row[key]).resolve())
        items.append(TestItem(**row))
    if not items:
        raise TestListError(f"--list {path} has no rows")
    return items


def format_test_list(items: Sequence[TestItem], base: Optional[Path] = None) -> str:
    """The TSV text; paths under ``base`` are written relative to it."""
    out = io.StringIO()
    out.write("\t".join(COLUMNS) + "\n")
    for item in items:
        row = asdict(item)
        for key in ("prompt_audio", "reference_audio"):
            if base is not None and row[key]:
                try:
                    row[key] = str(Path(row[key]).resolve().relative_to(base.resolve()))
                except ValueError:
                    pass
        out.write("\t".join(" ".join(str(row[c]).split()) for c in COLUMNS) + "\n")
    return out.getvalue()


def write_test_list(items: Sequence[TestItem], path) -> None:
    from valle.utils.atomic import atomic_write_text

    path = Path(path)
    atomic_write_text(path, format_test_list(items, base=path.parent))


def _speaker(cut) -> str:
    return cut.supervisions[0].speaker or cut.recording_id


def _words_before(text: str, seconds: float, total: float) -> str:
    """The words said in the first ``seconds``, estimated by their share of the characters."""
    words = text.split()
    if not words:
        return ""
    budget = len(text) * seconds / total
    taken, used = [], 0
    for w in words[:-1]:  # leave at least one word to continue with
        if used + len(w) / 2 > budget:
            break
        taken.append(w)
        used += len(w) + 1
    return " ".join(taken)


def _prompt_words(cut, text: str, language: str) -> str:
    """The words said in the first 3 s: pocketsphinx forced alignment for English, else (or when a
    word is missing from its dictionary) the character-share estimate."""
    if language.lower().startswith("en"):
        from valle.eval.prompt_words import words_spoken_before

        wav = cut.load_audio()  # [channels, samples]
        said = words_spoken_before(wav.mean(axis=0), cut.sampling_rate, text, CONTINUATION_PROMPT_SECONDS)
        if said is not None:
            return said
    return _words_before(text, CONTINUATION_PROMPT_SECONDS, cut.duration)


def build_test_list(cuts, out_dir, mode: str, num: int, seed: int = 0, min_seconds: float = 4.0,
                    max_seconds: float = 10.0) -> List[TestItem]:
    """Pick ``num`` utterances (fixed ``seed``) and write their audio under ``out_dir/audio``."""
    import soundfile as sf

    if mode not in MODES:
        raise TestListError(f"--mode {mode!r} is not one of {', '.join(MODES)}")
    out_dir = Path(out_dir)
    usable = [c for c in cuts if c.supervisions and (c.supervisions[0].text or "").strip() and c.has_recording
              and min_seconds <= c.duration <= max_seconds]
    by_speaker: Dict[str, list] = {}
    for c in usable:
        by_speaker.setdefault(_speaker(c), []).append(c)
    if mode == "cross-sentence":
        usable = [c for c in usable if len(by_speaker[_speaker(c)]) >= 2]
    if not usable:
        need = "two utterances of one speaker" if mode == "cross-sentence" else "an utterance"
        raise TestListError(f"no cut has {need} of {min_seconds:g}-{max_seconds:g} s with a transcript: "
                            "widen --min-seconds/--max-seconds or give more --cuts")
    rng = random.Random(seed)
    chosen = sorted(rng.sample(sorted(usable, key=lambda c: c.id), min(num, len(usable))), key=lambda c: c.id)
    audio_dir = out_dir / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)

    def save(cut, name: str, seconds: Optional[float] = None) -> str:
        path = audio_dir / f"{name}.wav"
        wav = cut.load_audio()  # [channels, samples]
        if seconds is not None:
            wav = wav[:, : int(round(seconds * cut.sampling_rate))]
        sf.write(str(path), wav.mean(axis=0), cut.sampling_rate, subtype="PCM_16")
        return str(path)

    items = []
    for cut in chosen:
        sup = cut.supervisions[0]
        text, language = " ".join(sup.text.split()), sup.language or "en-us"
        uid = cut.id.replace("/", "_")
        reference = save(cut, uid)
        if mode == "cross-sentence":
            others = [c for c in by_speaker[_speaker(cut)] if c.id != cut.id]
            prompt = rng.choice(sorted(others, key=lambda c: c.id))
            items.append(TestItem(uid, mode, language, text, save(prompt, prompt.id.replace("/", "_")),
                                  " ".join(prompt.supervisions[0].text.split()), reference))
        else:
            ptext = _prompt_words(cut, text, language)
            rest = text[len(ptext):].strip()
            items.append(TestItem(uid, mode, language, rest, save(cut, uid + ".prompt", CONTINUATION_PROMPT_SECONDS),
                                  ptext, reference))
    return items
