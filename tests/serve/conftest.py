"""The served tiny model of ``tiny_server`` (one server for the whole session: loading costs seconds)."""
from __future__ import annotations

import pytest
from tiny_server import Server, start_server, stop_server


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> Server:
    try:
        server = start_server(tmp_path_factory.mktemp("serve"), ["--metrics", "none"])
    except RuntimeError as e:
        pytest.fail(str(e))
    yield server
    stop_server(server)
