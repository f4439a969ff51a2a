"""Atomic file outputs: write beside the target, fsync, then rename over it.

A reader never sees a half-written manifest, archive or checkpoint; a killed writer leaves
at most a ``.tmp-*`` file that the next run overwrites or removes.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]


def _umask() -> int:
    """The process umask (read by setting and restoring it; there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class OutputPathError(ValueError):
    """An output path that names something other than a regular file (a device, a FIFO, a folder)."""


_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def check_output_path(path: PathLike, option: str = "output") -> Path:
    """The file an output at ``path`` really writes: symlinks followed, anything but a regular file refused.

    Renaming a temporary file over a device node, a FIFO or a symlink would replace it (as root,
    ``--output /dev/full`` turned the device into a wav file); so a symlink is written through to
    its target and a device, FIFO, socket or folder raises OutputPathError naming the option.
    """
    real = Path(os.path.realpath(path))
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return real
    for is_kind, kind in _KINDS:
        if is_kind(mode):
            raise OutputPathError(f"{option} {path} is {kind}, not a regular file: give the path of a file to write")
    return real


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``.

    The temporary name keeps the target's suffixes (``x.jsonl.gz`` -> ``.tmp-abc.x.jsonl.gz``)
    so writers that look at the extension (lhotse, torch) behave as for the real file.
    On an exception the temporary file is removed and the target is left untouched. A symlink
    is written through (its target is replaced, the link stays); a device node, FIFO or folder
    is refused with OutputPathError before anything is written (``check_output_path``).
    """
    path = check_output_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="." + path.name, dir=path.parent)
    # mkstemp creates the file 0600; give it the mode a plain open() would (0666 minus the umask)
    # so manifests and checkpoints stay readable by the group like every other output.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            with open(tmp_path, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_torch_save(obj, path: PathLike) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def atomic_save_manifest(manifest, path: PathLike) -> None:
    """Write a lhotse manifest (CutSet, RecordingSet, ...) atomically."""
    with atomic_path(path) as tmp:
        manifest.to_file(tmp)
