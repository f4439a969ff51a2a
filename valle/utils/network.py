"""A bounded connectivity probe, so an offline machine fails fast instead of hanging on a download."""
from __future__ import annotations

import socket
import threading
from urllib.parse import urlparse


def can_reach(host: str, port: int = 80, timeout: float = 5.0) -> bool:
    """True when a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    Runs in a daemon thread because name resolution ignores socket timeouts; a firewall that
    drops packets must not hang the caller.
    """
    result = {"ok": False}

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result["ok"] = True
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return result["ok"]


def can_reach_url(url: str, timeout: float = 5.0) -> bool:
    """``can_reach`` for the host and port of ``url`` (http 80, https 443 unless given)."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return can_reach(parsed.hostname or "", port, timeout)
