"""Content digests of files, read in 1 MiB blocks (weights files and manifests can be large)."""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path


def file_digest(path: Path, algorithm: str = "sha256", gunzip: bool = False) -> str:
    """Hex digest of ``path``'s bytes; ``gunzip``: of its decompressed payload (gzip headers carry a
    time stamp, so two writes of the same manifest differ as files but not as payloads)."""
    digest = hashlib.new(algorithm)
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
