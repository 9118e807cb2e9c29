"""Fixtures for cluster tests (helpers live in _cluster.py)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _cluster import Standalone, run_driver, start_standalone, stop_all


@pytest.fixture(scope="module")
def standalone() -> Iterator[Standalone]:
    """A 2-CPU cluster from `rayground start --head`, shared by the module's tests."""
    cluster = start_standalone("--num-cpus", "2", "--object-store-memory", "200MB")
    try:
        yield cluster
    finally:
        stop_all()


@pytest.fixture
def driver(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(source: str, *args: str, timeout: float = 60, **env: str):
        return run_driver(tmp_path, source, *args, timeout=timeout, **env)

    return run


@pytest.fixture
def short_root() -> Iterator[str]:
    """A session root of its own, short enough for Unix socket paths (tmp_path is too long)."""
    root = tempfile.mkdtemp(prefix="rgt-", dir="/tmp")
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
