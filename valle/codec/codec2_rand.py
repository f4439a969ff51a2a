"""Reproducible codec2 decoding: reset libcodec2's random-number state before each utterance.

codec2's decoder draws the phases of unvoiced harmonics from ``codec2_rand()``, a linear congruential
generator whose state is one ``static unsigned long next = 1`` shared by the whole library, not kept
per ``Codec2`` instance. So decoding the same codes twice gives different samples (measured: the
difference as large as the signal), an utterance's audio depends on every decode before it in the
process, and a stream's windows differ from the one-shot decode of the same codes.

The state is not exported, but the bundled library keeps its symbol table: ``next``'s offset is read
from the ELF file, the library's load address from the exported ``codec2_rand`` (its address minus its
offset), and the reset is checked once by calling ``codec2_rand`` (seed 1 gives 16838, 5758, 10113, as
C's example ``rand``). Where any of that fails (another build, a stripped library, not Linux / x86-64
ELF), decoding stays as pycodec2 does it and ``available()`` is False. ``locked()`` holds a process-wide
lock with the state reset: decodes in several threads would otherwise share one sequence.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import logging
import os
import struct
import threading
from functools import lru_cache
from typing import Iterator, Optional

log = logging.getLogger(__name__)

SEED = 1  # the initial value of codec2_rand's state in libcodec2
FIRST_VALUES = (16838, 5758, 10113)  # codec2_rand() after a reset to SEED
_LOCK = threading.Lock()


def _elf_symbols(path: str, names: set) -> dict:
    """{name: [(value, size, type), ...]} of the ``.symtab`` entries of a 64-bit little-endian ELF file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    found: dict = {}
    for _, sh_type, _, _, offset, size, link, _, _, entsize in sections:
        if sh_type != 2 or not entsize:  # SHT_SYMTAB
            continue
        str_offset = sections[link][4]
        for i in range(size // entsize):
            st_name, st_info, _, _, st_value, st_size = struct.unpack_from("<IBBHQQ", data, offset + i * entsize)
            end = data.index(b"\0", str_offset + st_name)
            name = data[str_offset + st_name:end].decode("ascii", "replace")
            if name in names:
                found.setdefault(name, []).append((st_value, st_size, st_info & 0xF))
    return found


def _library_path() -> Optional[str]:
    import pycodec2

    libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(pycodec2.__file__)), "pycodec2.libs",
                                  "libcodec2*.so*"))
    return libs[0] if len(libs) == 1 else None


@lru_cache(maxsize=1)
def _state_address() -> Optional[int]:
    """The address of libcodec2's ``next`` in this process, checked; None where it cannot be found."""
    try:
        path = _library_path()
        if path is None:
            raise ValueError("no single libcodec2 in pycodec2.libs")
        symbols = _elf_symbols(path, {"next", "codec2_rand"})
        rand_offset = [v for v, _, kind in symbols.get("codec2_rand", []) if kind == 2]  # STT_FUNC
        states = [v for v, size, kind in symbols.get("next", []) if kind == 1 and size == 8]  # STT_OBJECT
        if len(rand_offset) != 1 or len(states) != 1:
            raise ValueError(f"symbols codec2_rand {len(rand_offset)}, next {len(states)}: expected one of each")
        lib = ctypes.CDLL(path)  # the copy pycodec2 loaded (same file): dlopen returns its handle
        base = ctypes.cast(lib.codec2_rand, ctypes.c_void_p).value - rand_offset[0]
        address = base + states[0]
        state = ctypes.c_ulong.from_address(address)
        saved = state.value
        state.value = SEED
        got = tuple(lib.codec2_rand() for _ in FIRST_VALUES)
        state.value = saved
        if got != FIRST_VALUES:
            raise ValueError(f"codec2_rand gave {got} after the reset, not {FIRST_VALUES}")
        return address
    except (OSError, ValueError, AttributeError, IndexError, struct.error, ImportError) as e:
        log.warning("codec2 decoding is not reproducible here (its random-number state cannot be reset: %s)", e)
        return None


def available() -> bool:
    """Whether codec2 decodes are reproducible in this process (the state reset works)."""
    with _LOCK:
        return _state_address() is not None


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Hold the decode lock with codec2's random-number state reset to its initial value."""
    with _LOCK:  # the first call's self-check writes the state and calls codec2_rand: inside the lock too
        address = _state_address()
        if address is not None:
            ctypes.c_ulong.from_address(address).value = SEED
        yield
