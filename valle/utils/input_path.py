"""Why an input path is not a readable file, in words a message can use.

"does not exist" for a folder that does exist sends the user hunting for a typo; naming what the
path is (a folder, a FIFO, a device) and what was expected points at the fix.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


def not_a_file(path) -> str:
    """``"does not exist"``, ``"is a directory, not a file"``, ...; empty when ``path`` is a regular file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "is a dangling symlink" if os.path.islink(path) else "does not exist"
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        inside = sorted(p.name for p in Path(path).glob("*.pt"))[:4]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        return f"is a directory, not a file{hint}"
    return "is a FIFO or device, not a regular file"
