"""Fixtures for rayground.serve's tests: one cluster and one Serve instance per test module,
its HTTP proxy on a free loopback port; every application is deleted after each test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEED_DIR = Path(__file__).resolve().parent / "seed001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) == 0


@pytest.fixture(scope="session")
def pick_port():
    """`pick_port()`: a free loopback port."""
    return free_port


def new_gate(ray, **options) -> object:
    """An actor that requests wait on until the test opens it (`wait`, `count`, `open`): tests
    know when requests are in flight instead of sleeping. Works on rayground and on Ray."""

    @ray.remote
    class Gate:
        def __init__(self):
            self.event = asyncio.Event()
            self.waiting = 0

        async def wait(self):
            self.waiting += 1
            await self.event.wait()

        async def count(self):
            return self.waiting

        async def open(self):
            self.event.set()

    return Gate.options(**options).remote() if options else Gate.remote()


@pytest.fixture(scope="session")
def make_gate():
    """`make_gate(ray, **actor_options)`: see `new_gate`."""
    return new_gate


@pytest.fixture
def gate(env: ServeEnv) -> Iterator[object]:
    """A named gate (`gate`, namespace `serve-tests`) that deployments find with get_actor."""
    ray = env.ray
    actor = new_gate(ray, name="gate", namespace="serve-tests")
    yield actor
    ray.get(actor.open.remote())
    ray.kill(actor)


@pytest.fixture
def port_open():
    """`port_open(port)`: whether something accepts connections on 127.0.0.1:port."""
    return port_is_open


@dataclass
class ServeEnv:
    ray: object
    serve: object
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _importable() -> None:
    runtime = str(REPO / "runtime")
    for path in (runtime, str(SEED_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if runtime not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([runtime, *parts])


@pytest.fixture(scope="module")
def env() -> Iterator[ServeEnv]:
    _importable()
    import rayground as ray
    from rayground import serve

    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=8, num_gpus=1)
    port = free_port()
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        yield ServeEnv(ray, serve, port)
    finally:
        with contextlib.suppress(Exception):
            serve.shutdown()
        ray.shutdown()


@pytest.fixture
def serve_env(env: ServeEnv) -> Iterator[ServeEnv]:
    """The module's Serve, with no applications left behind by the test."""
    yield env
    for name in list(env.serve.status().applications):
        env.serve.delete(name)
