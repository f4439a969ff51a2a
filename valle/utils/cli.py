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


class _RenamedOption(argparse.Action):
    """An old option spelling: using it fails with one line naming the new one (exit 2, as argparse)."""

    def __init__(self, option_strings, dest, why: str = "", **kwargs):
        self.why = why
        super().__init__(option_strings, dest, nargs="?", default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.exit(2, f"{parser.prog}: error: {option_string} {self.why}\n")


def refuse_renamed_options(parser, renamed: dict) -> None:
    """``renamed`` maps an old option (``--max-duration``) to what to use instead; each old spelling on
    ``parser`` then fails with the line "<old> was renamed: <instead>" (kept for one release after a
    rename)."""
    refuse_old_options(parser, {old: f"was renamed: {instead}" for old, instead in renamed.items()})


def refused_options(parser) -> dict:
    """Each refused old spelling on ``parser`` -> its one error line (for a YAML key spelled the old way)."""
    return {opt: f"{opt} {a.why}" for a in parser._actions if isinstance(a, _RenamedOption) for opt in a.option_strings}


def refuse_old_options(parser, why: dict) -> None:
    """``why`` maps an old option to the rest of its one error line ("<old> <why>")."""
    for old, reason in why.items():
        parser.add_argument(old, action=_RenamedOption, why=reason, dest=f"renamed_{old.lstrip('-')}")


TOKENIZED_DIR_RENAMED = {
    "--data-dir": "was renamed here: pass --tokenized-dir DIR, the folder prepare.sh writes its cuts into "
                  "(<prepare.sh --data-dir>/tokenized, e.g. data/tokenized); --data-dir is now only prepare.sh's "
                  "and run.sh's output folder (data)",
}


def add_tokenized_dir_option(parser, default=None, help: str = "") -> None:
    """``--tokenized-dir DIR`` (prepare.sh's <data-dir>/tokenized) and the refused old ``--data-dir`` spelling."""
    from pathlib import Path

    parser.add_argument("--tokenized-dir", type=Path, default=default,
                        help="prepared data: the tokenized folder prepare.sh writes (data/tokenized)" + help)
    refuse_old_options(parser, TOKENIZED_DIR_RENAMED)
