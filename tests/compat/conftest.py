"""Fixtures for the public-API compatibility suite.

Every test in ``tests/compat`` takes a ``ray`` fixture: the backend module, already initialised
with ``init(num_cpus=2)``. The fixture is parametrised over two backends, so each test runs once
against ``rayground`` and once against real Ray (marked ``ray``), and the two are held to the same
assertions. Real Ray is the reference: a test is only kept if it passes there. Where the two
differ on purpose, the test declares it with ``@pytest.mark.differs`` (tests/_differences.py),
which docs/ray-compatibility.md is generated from.

The fixture is module-scoped: one ``init``/``shutdown`` per test module and backend (real Ray's
``init`` costs several seconds). Only the Data tests keep one real Ray cluster with the plain
arguments for the next module that wants the same, when it is left as fresh (tests/_kept_ray.py).
A module can change the cluster it gets with two module globals:

* ``INIT_KWARGS``: extra keyword arguments for ``init`` on both backends;
* ``RAY_INIT_KWARGS``: extra keyword arguments for real Ray only (e.g. ``include_dashboard``).

A backend that cannot be imported is skipped with the reason (real Ray where the ``ray`` extra is
not installed), and so is a real-Ray module that asks for the dashboard when this install cannot
start one (plain ``ray`` without ``ray[default]``). Under CI both fail instead (tests/_needs.py):
CI installs the ``ray`` extra, so the comparison with Ray must run there.

Run one backend with ``-k rayground`` or ``-m ray`` / ``-m "not ray"``. Polling with a deadline
uses the root conftest's ``wait_until`` fixture.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path

import pytest

import _kept_ray
from _needs import missing
from _procs import descendants

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "runtime"

BACKENDS = [
    pytest.param("rayground", id="rayground"),
    pytest.param("ray", id="ray", marks=pytest.mark.ray),
]


def _make_rayground_importable() -> None:
    """Put this checkout's runtime/ first on the path for rayground, in the driver and (through
    PYTHONPATH) in the worker processes it starts, so the working tree is what gets tested."""
    runtime = str(RUNTIME)
    if runtime not in sys.path:
        sys.path.insert(0, runtime)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if runtime not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([runtime, *parts])


def import_backend(name: str):
    """Import a backend module; where it cannot be imported, skip the test saying why (fail
    under CI)."""
    if name == "rayground":
        _make_rayground_importable()
    try:
        return importlib.import_module(name)
    except Exception as exc:
        missing(f"backend {name!r} is not importable: {type(exc).__name__}: {exc}")


def init_kwargs(backend: str, module) -> dict:
    kwargs: dict = {"num_cpus": 2}
    if backend == "ray":
        # Ray's dashboard is an optional web UI that rayground does not start; it only slows init.
        kwargs["include_dashboard"] = False
    kwargs.update(getattr(module, "INIT_KWARGS", {}))
    if backend == "ray":
        kwargs.update(getattr(module, "RAY_INIT_KWARGS", {}))
    return kwargs


def _init(mod, backend: str, kwargs: dict) -> None:
    try:
        mod.init(**kwargs)
    except Exception as exc:
        # Real Ray gives its raylet a fixed 30 s to register ("The current node timed out during
        # startup ..."), which a loaded 2-core machine can miss: try once more.
        if backend != "ray" or "timed out during startup" not in str(exc):
            raise
        with contextlib.suppress(Exception):
            mod.shutdown()
        mod.init(**kwargs)


def shutdown(mod, backend: str, before: set[int]) -> None:
    """Shut the backend down; for real Ray, also wait (bounded) until the processes it started
    since ``before`` have exited. What is still there after that, the leak check reports."""
    if backend == "ray":
        _kept_ray.shutdown_ray(mod, before)
    else:
        mod.shutdown()


@pytest.fixture(scope="module", params=BACKENDS)
def ray(request, allow_lingering):
    """The backend module (``rayground`` or ``ray``), initialised for this test module. Real
    Ray's cluster may be the one the previous module left, when it is as fresh (_kept_ray.py)."""
    backend = request.param
    mod = import_backend(backend)
    kwargs = init_kwargs(backend, request.module)
    keep = backend == "ray" and _kept_ray.keeps(request.module)
    if keep and _kept_ray.reuse(mod, kwargs):
        before = descendants()
        yield mod
        _kept_ray.release(mod, kwargs, before)
        return
    if backend == "ray":
        _kept_ray.drop(mod)
    with contextlib.suppress(Exception):
        if mod.is_initialized():
            mod.shutdown()
    before = descendants()
    try:
        _init(mod, backend, kwargs)
    except Exception as exc:
        with contextlib.suppress(Exception):
            mod.shutdown()
        if backend == "ray" and kwargs.get("include_dashboard") and "dashboard" in str(exc):
            missing(
                "real Ray cannot start its dashboard in this install (the state API needs "
                f"`ray[default]`): {type(exc).__name__}: {exc}"
            )
        raise
    if keep:
        _kept_ray.started(mod, kwargs, before, allow_lingering)
        try:
            yield mod
        finally:
            _kept_ray.release(mod, kwargs, before)
        return
    try:
        yield mod
    finally:
        shutdown(mod, backend, before)


@pytest.fixture(params=BACKENDS)
def bare_backend(request):
    """The backend module, not initialised: for tests that start their own clusters. Whatever
    the test leaves connected is shut down, and real Ray's processes are waited for."""
    backend = request.param
    mod = import_backend(backend)
    if backend == "ray":
        _kept_ray.drop(mod)
    with contextlib.suppress(Exception):
        if mod.is_initialized():
            mod.shutdown()
    before = descendants()
    try:
        yield mod
    finally:
        shutdown(mod, backend, before)


@pytest.fixture(scope="module")
def exc(ray):
    """The backend's exceptions module, as user code reaches it: ``ray.exceptions``."""
    return ray.exceptions


@pytest.fixture(scope="module")
def pgm(ray):
    """`ray.util.placement_group` the module (the package attribute is the function, in both)."""
    return importlib.import_module(f"{ray.__name__}.util.placement_group")


@pytest.fixture(scope="module")
def strategies(ray):
    """`ray.util.scheduling_strategies` of the backend."""
    return importlib.import_module(f"{ray.__name__}.util.scheduling_strategies")
