"""docs/robustness.md and tests/robustness/ describe the same cases."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from robust_helpers import REPO

DOC = REPO / "docs" / "robustness.md"


QUALIFIED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def table_tests(doc: Path):
    """Test names (last column, in backticks) of every table row, with the row text.

    A name written ``tests/<dir>/<file>.py::test_x`` lives in that file (cases whose tests sit
    beside the code they check); a bare ``test_x`` lives in tests/robustness/."""
    rows = []
    for line in doc.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) < 3 or cells[0] in ("case", "---") or set(cells[0]) <= {"-", " "}:
            continue
        qualified = QUALIFIED.findall(cells[-1])
        names = re.findall(r"(?<!::)`(test_\w+)`", cells[-1]) + [f"{f}::{n}" for f, n in qualified]
        assert names, f"{doc.name}: row without a test name: {line}"
        rows += [(n, line) for n in names]
    return rows


def defined_tests_in(path: Path):
    return {node.name for node in ast.parse(path.read_text(encoding="utf-8")).body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")}


def defined_tests(folder: Path):
    found = set()
    for path in folder.glob("test_*.py"):
        found |= defined_tests_in(path)
    return found


def test_every_row_names_a_test_and_every_test_has_a_row():
    rows = table_tests(DOC)
    tests = defined_tests(Path(__file__).parent)
    assert len(rows) >= 25
    missing = [line for name, line in rows if "::" not in name and name not in tests]
    for name, line in rows:
        if "::" in name:
            path, func = name.split("::")
            if not (REPO / path).is_file() or func not in defined_tests_in(REPO / path):
                missing.append(line)
    assert not missing, "rows naming no existing test:\n" + "\n".join(missing)
    undocumented = sorted(tests - {name for name, _ in rows})
    assert not undocumented, f"tests without a row in {DOC}: {undocumented}"
