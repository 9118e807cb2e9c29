"""Fixtures for the lab tests (helpers in _labhelpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _labhelpers import Server, start_server, stop_server


@pytest.fixture
def jupyter_server(tmp_path: Path) -> Iterator[Server]:
    server = start_server(tmp_path)
    try:
        yield server
    finally:
        stop_server(server)
