"""Fixtures for the lab tests (helpers in _labhelpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _labhelpers import CHROMIUM, CHROMIUM_FLAGS, Server, start_server, stop_server

from _needs import need_module


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per test module (starting one costs seconds); tests leave no cluster behind."""
    server = start_server(tmp_path_factory.mktemp("jupyter"))
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's chromium, headless, driven by Playwright (tests using it are `needs_chromium`)."""
    sync_api = need_module("playwright.sync_api", "playwright is not installed: the `test` extra")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()
