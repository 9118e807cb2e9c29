"""Fixtures for rayground.data's tests.

``ray``: the backend module, parametrised over rayground and real Ray (the ``ray`` param is
marked ``ray`` and skips where Ray is not installed), initialised once per test module with two
CPUs, as tests/compat does. Both backends are held to the same assertions; Ray Data does not
promise row order, so tests compare sorted rows where order is not part of the contract.

``rg``: rayground only, for tests of what only rayground has (its records, its errors' text).
"""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path

import pytest

import _kept_ray
from _procs import descendants

# The compat suite's backend helpers (import, init with a retry, per-module kwargs), loaded by
# path: both directories name their file conftest.py.
_spec = importlib.util.spec_from_file_location(
    "_compat_backends", Path(__file__).resolve().parents[1] / "compat" / "conftest.py"
)
_compat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_compat)
_init, import_backend, init_kwargs = _compat._init, _compat.import_backend, _compat.init_kwargs

BACKENDS = [
    pytest.param("rayground", id="rayground"),
    pytest.param("ray", id="ray", marks=pytest.mark.ray),
]


def _start(backend: str, module) -> object:
    mod = import_backend(backend)
    with contextlib.suppress(Exception):
        if mod.is_initialized():
            mod.shutdown()
    kwargs = init_kwargs(backend, module)
    _init(mod, backend, kwargs)
    mod.data.DataContext.get_current().enable_progress_bars = False
    return mod


@pytest.fixture(scope="module", params=BACKENDS)
def ray(request, allow_lingering):
    if request.param == "rayground":
        mod = _start("rayground", request.module)
        try:
            yield mod
        finally:
            mod.shutdown()
        return
    # Real Ray: the cluster the previous module left, when it is as fresh (tests/_kept_ray.py).
    mod = import_backend("ray")
    kwargs = {**init_kwargs("ray", request.module), "log_to_driver": False}
    before = descendants()
    if not _kept_ray.reuse(mod, kwargs):
        _kept_ray.drop(mod)
        before = descendants()
        _init(mod, "ray", kwargs)
        _kept_ray.started(mod, kwargs, before, allow_lingering)
    mod.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield mod
    finally:
        _kept_ray.release(mod, kwargs, before)


@pytest.fixture(scope="module")
def rg(request):
    mod = _start("rayground", request.module)
    try:
        yield mod
    finally:
        mod.shutdown()
