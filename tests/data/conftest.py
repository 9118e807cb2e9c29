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
    if backend == "ray":
        kwargs.setdefault("log_to_driver", False)
    _init(mod, backend, kwargs)
    mod.data.DataContext.get_current().enable_progress_bars = False
    return mod


@pytest.fixture(scope="module", params=BACKENDS)
def ray(request):
    mod = _start(request.param, request.module)
    try:
        yield mod
    finally:
        mod.shutdown()


@pytest.fixture(scope="module")
def rg(request):
    mod = _start("rayground", request.module)
    try:
        yield mod
    finally:
        mod.shutdown()
