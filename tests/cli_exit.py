"""``exit_message(main, argv)``: run a CLI's ``main`` that must fail and return its exit message."""
from __future__ import annotations

import pytest


def exit_message(main, argv) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code not in (0, None)
    return str(e.value.code)
