"""What every command line of the project shares: how a yes/no option is spelled."""
from __future__ import annotations

import argparse

TRUE_WORDS = ("1", "true", "yes", "y", "on")
FALSE_WORDS = ("0", "false", "no", "n", "off")


def str2bool(value) -> bool:
    """``--flag true|false`` (also yes/no, on/off, 1/0, any case) for argparse's ``type=``."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
