"""A folder of voices: ``<voices_dir>/<name>.voice.npz``, looked up by name, listed, never left.

A voice name is 1-128 characters of ``[A-Za-z0-9_.-]`` that does not start with ``.`` or ``-``:
no separators, no ``..``, no hidden files, nothing an option parser would take for an option.
``voice_path`` also refuses a file that resolves (through a symlink) outside the folder, so a
name coming from a request (the HTTP server) can only ever read a voice of that folder.

    save_voice(voice_path("alice", "exp/valle/voices"), voice)
    voice = load_voice("alice", voices_dir="exp/valle/voices")   # a name, checked
    voice = load_voice("some/where/alice.voice.npz")              # no voices_dir: a file path
    for v in list_voices("exp/valle/voices"): print(v.name, v.seconds, v.text)
"""
from __future__ import annotations

import logging
import os
import re
from collections import Counter
from pathlib import Path
from typing import List, Optional, Tuple

from valle.voice.voice_file import VOICE_SUFFIX, Voice, VoiceError, VoiceFileError, read_voice

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class VoiceNameError(VoiceError):
    """A voice name that is not a plain name (path separators, ``..``, odd characters) or is unknown."""


def check_voice_name(name: str) -> str:
    """``name`` if it is a valid voice name, else ``VoiceNameError`` saying what a name may hold."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise VoiceNameError(
            f"voice name {name!r} is not a plain name: use 1-128 letters, digits, '_', '.' or '-', not starting "
            "with '.' or '-' (no '/' and no '..': a name never leaves the voices folder; to use a file "
            "elsewhere, pass its path)")
    return name


def voice_name_for(speaker: str) -> str:
    """A valid voice name made from a speaker id (other characters become ``_``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(speaker)).lstrip(".-")[:128]
    return name or "voice"


def voice_names_for(speakers) -> dict:
    """{speaker: voice name} for several speakers: ``voice_name_for``, and where two speakers would get one name
    (张三 and 李四 both "__"; José and Josè both "Jos_") each of those gets a suffix from its own id's digest."""
    import hashlib

    base = {spk: voice_name_for(spk) for spk in speakers}
    counts = Counter(base.values())
    return {spk: name if counts[name] == 1 else
            f"{name[:120]}-{hashlib.sha1(str(spk).encode('utf-8')).hexdigest()[:6]}" for spk, name in base.items()}


def voice_path(name: str, voices_dir) -> Path:
    """The file of voice ``name`` in ``voices_dir`` (checked: a plain name, inside the folder)."""
    check_voice_name(name)
    folder = Path(voices_dir)
    path = folder / f"{name}{VOICE_SUFFIX}"
    if path.exists():
        real_dir, real = os.path.realpath(folder), os.path.realpath(path)
        if os.path.dirname(real) != real_dir:
            raise VoiceNameError(f"voice {name!r}: {path} resolves to {real}, outside the voices folder "
                                 f"{folder}; copy the file into the folder instead of linking it")
    return path


def load_voice(name_or_path, voices_dir=None) -> Voice:
    """With ``voices_dir``: the voice *named* ``name_or_path`` in that folder (a path is refused).
    Without: the voice file at path ``name_or_path``. Errors are ``VoiceError`` with the fix."""
    if voices_dir is None:
        return read_voice(name_or_path)
    path = voice_path(str(name_or_path), voices_dir)
    if not path.exists():
        known = [n for n, _ in voice_files(voices_dir)] if Path(voices_dir).is_dir() else []
        listed = f"it holds: {', '.join(known[:20])}{' ...' if len(known) > 20 else ''}" if known else "it holds no voices"
        raise VoiceNameError(f"no voice {name_or_path!r} in {voices_dir} ({listed}); make one with "
                             "python -m valle.bin.make_voice, or pass a voice file's path")
    voice = read_voice(path)
    voice.name = str(name_or_path)  # a renamed file is a renamed voice
    return voice


def voice_files(voices_dir) -> List[Tuple[str, Path]]:
    """``(name, path)`` of every ``*.voice.npz`` in ``voices_dir`` whose name is valid, sorted by name."""
    folder = Path(voices_dir)
    if not folder.is_dir():
        raise VoiceFileError(f"voices folder {folder} does not exist or is not a folder: pass the folder "
                             "python -m valle.bin.make_voice wrote (run.sh: <exp-dir>/voices)")
    out = []
    for p in folder.iterdir():
        if p.name.endswith(VOICE_SUFFIX):
            name = p.name[: -len(VOICE_SUFFIX)]
            if NAME_RE.fullmatch(name):
                out.append((name, p))
            else:
                log.warning("voices folder %s: %s is not named <voice name>%s and is ignored", folder, p.name, VOICE_SUFFIX)
    return sorted(out)


def list_voices(voices_dir, errors: Optional[List[Tuple[str, str]]] = None) -> List[Voice]:
    """Every usable voice in ``voices_dir``, sorted by name. A file that cannot be read is left out
    and reported: appended to ``errors`` as ``(name, message)`` when given, else logged as a warning."""
    voices = []
    for name, path in voice_files(voices_dir):
        try:
            voices.append(load_voice(name, voices_dir))
        except VoiceError as e:
            if errors is not None:
                errors.append((name, str(e)))
            else:
                log.warning("%s", e)
    return voices


def resolve_voice(name_or_path: str, voices_dir=None) -> Voice:
    """A command line's ``--voice``: a file when it looks like a path (a ``/``, or ending in ``.npz``) or
    when there is no ``voices_dir``; otherwise the voice of that name in ``voices_dir``."""
    ref = str(name_or_path)
    if voices_dir is None or "/" in ref or ref.endswith(".npz"):
        return load_voice(ref)
    return load_voice(ref, voices_dir)
