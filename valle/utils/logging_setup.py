"""The one log format of every entry point: ``setup_logging()`` at the start of each ``main()``.

A line reads ``2026-11-27 23:50:01,123 INFO [prepare_manifests.py:160] stage 1: wrote ...``: the time,
the level and the file:line that logged it (icefall's shape), so a log line leads to its code in one hop.

Idempotent and polite: tests call ``main([...])`` many times, so the handler is added once; when the root
logger already has handlers that someone else installed (a library caller, pytest's log capture), they
are kept and none is added. Either way the ``valle`` loggers get the asked level, so their INFO lines
reach whichever handlers there are. ``VALLE_LOG_LEVEL`` (DEBUG, INFO, WARNING, ...) overrides the level.

Errors end the same way in every command: one line ``error: <message>`` on stderr and exit status 1
(``raise SystemExit(f"error: {e}")``; a caller of ``main([...])`` reads the message in
``str(SystemExit.code)``). Exit status 2 stays argparse's: a usage line and ``prog: error: ...`` for an
option the parser itself refuses (unknown option, bad type or choice, ``parser.error`` at parse time).
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Optional, Union

LOG_FORMAT = "%(asctime)s %(levelname)s [%(filename)s:%(lineno)d] %(message)s"


class _StderrHandler(logging.StreamHandler):
    """Writes to the sys.stderr of the moment of each record (pytest and callers swap it), not of setup."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def resolve_level(level: Union[str, int, None] = None, verbose: bool = False) -> int:
    """VALLE_LOG_LEVEL if set, else ``level``, else DEBUG with ``verbose`` or INFO."""
    chosen = os.environ.get("VALLE_LOG_LEVEL") or level or ("DEBUG" if verbose else "INFO")
    if isinstance(chosen, int):
        return chosen
    number = logging.getLevelName(str(chosen).strip().upper())
    if not isinstance(number, int):
        raise SystemExit(f"error: log level {chosen!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return number


def setup_logging(level: Union[str, int, None] = None, verbose: bool = False) -> Optional[logging.Handler]:
    """Give the process the project's log format at ``level``; returns the handler used (None: the caller's)."""
    number = resolve_level(level, verbose)
    root = logging.getLogger()
    logging.getLogger("valle").setLevel(number)
    ours = [h for h in root.handlers if isinstance(h, _StderrHandler)]
    if ours:
        root.setLevel(number)
        return ours[0]
    if root.handlers:  # someone else configured logging: keep their handlers and their root level
        return None
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(number)
    return handler
