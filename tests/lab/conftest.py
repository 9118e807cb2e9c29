"""Fixtures for the lab tests (helpers in _labhelpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _labhelpers import Server, start_server, stop_server


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per test module (starting one costs seconds); tests leave no cluster behind."""
    server = start_server(tmp_path_factory.mktemp("jupyter"))
    try:
        yield server
    finally:
        stop_server(server)
