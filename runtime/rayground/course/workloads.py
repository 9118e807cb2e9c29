"""Small workloads the checks submit themselves (a check must not depend on the lesson's cells)."""

from __future__ import annotations

import functools
import time
from typing import Any

from .observe import api


def sleep_then(seconds: float, value: Any) -> Any:
    time.sleep(seconds)
    return value


@functools.cache
def _remote(backend_module: Any, fn: Any) -> Any:
    return backend_module.remote(fn)


def sleepers(delays: list[float]) -> list[Any]:
    """One task per delay that sleeps that long and returns the delay; returns their refs."""
    ray = api()
    task = _remote(ray, sleep_then)
    return [task.remote(d, d) for d in delays]
