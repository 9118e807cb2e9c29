"""Fixtures for the Tune tests.

``ray`` is the compatibility suite's backend fixture (tests/compat/conftest.py, reused, not
copied): the backend module initialised with ``init(num_cpus=2)``, parametrised over rayground
and real Ray (marked ``ray``). ``tune`` is that backend's Tune module. Every experiment writes
under the test's ``tmp_path`` (``storage`` fixture), never ``~/ray_results``.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

_COMPAT = Path(__file__).resolve().parents[1] / "compat" / "conftest.py"
_spec = importlib.util.spec_from_file_location("_tune_compat_conftest", _COMPAT)
assert _spec is not None and _spec.loader is not None
compat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compat)

ray = compat.ray  # the module-scoped, backend-parametrised fixture


@pytest.fixture(scope="module")
def tune(ray, request):
    """The backend's Tune: ``rayground.tune`` or ``ray.tune``.

    Trainables are module-level functions of the test module, which worker processes cannot
    import (pytest put tests/tune on the driver's sys.path only): both backends are told to
    pickle that module's functions by value, as they would a script's `__main__`.
    """
    pickler = importlib.import_module("ray.cloudpickle" if ray.__name__ == "ray" else "cloudpickle")
    pickler.register_pickle_by_value(request.module)
    yield importlib.import_module(f"{ray.__name__}.tune")
    pickler.unregister_pickle_by_value(request.module)


@pytest.fixture(scope="module")
def schedulers(ray):
    return importlib.import_module(f"{ray.__name__}.tune.schedulers")


@pytest.fixture
def storage(tmp_path):
    """A fresh storage_path for one test's experiments."""
    path = tmp_path / "results"
    path.mkdir()
    return str(path)


@pytest.fixture
def run_config(tune, storage):
    """RunConfig(storage_path=<tmp>, name=..., verbose=0) for this backend."""

    def make(name: str = "exp", **kwargs):
        kwargs.setdefault("verbose", 0)
        return tune.RunConfig(storage_path=storage, name=name, **kwargs)

    return make
