"""The one error every optional (paper-grade) scoring backend raises when it cannot run here."""
from __future__ import annotations


class BackendUnavailable(RuntimeError):
    """A backend's package or weights are not on this machine (never downloaded)."""

    def __init__(self, backend: str, tried: str, alternative: str, fix: str = ""):
        self.backend, self.tried, self.alternative = backend, tried, alternative
        msg = f"{backend} is unavailable: {tried}"
        if fix:
            msg += f"; {fix}"
        msg += f" (or use the offline {alternative})"
        super().__init__(msg)
