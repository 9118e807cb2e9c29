"""One real Ray cluster kept from one test module to the next.

Real Ray's ``init`` and ``shutdown`` cost 10-20 s on a busy 2-core machine, paid once per module
and backend. A module of the Data tests whose cluster arguments are the plain ones
(``KEEPABLE``) gets the cluster the previous such module left, if that one is as a fresh cluster
would be: connected, every resource free, no placement group and no named actor. Otherwise it is
shut down and a new one started. Modules that ask for anything else (the dashboard for the state
API, a job runtime_env, other resources) always get a cluster of their own, shut down after them.

The kept cluster's processes are exempt from the per-module leak check (``allow_lingering``,
without muting the shared-memory check: Ray makes no ``/dev/shm/rayground*`` entries); the
session's check still requires them gone, which ``shutdown_kept`` does at the session's end.

State lives here, not in a conftest: tests/compat's conftest is loaded three times (compat, data,
tune), and all of them must see the one cluster.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _procs import descendants, wait_until

# Real Ray's shutdown() returns before its GCS, dashboard and monitor processes exit; on a loaded
# 2-core machine they can outlive the leak check's 10 s grace, which then blames the module.
RAY_EXIT_WAIT_S = 60.0
IDLE_WAIT_S = 5.0  # resources come back to a cluster a moment after a module's actors go

KEEPABLE = (
    {"num_cpus": 2, "include_dashboard": False},
    {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False},
)

# The test directories whose modules share the kept cluster; a module elsewhere drops it first.
# Not tests/compat: its modules cancel and kill tasks, and real Ray 2.60's driver once aborted
# ("Tried to complete task that was not pending") on a late reply to a task of an earlier module
# on the same connection; a module of its own per cluster never saw that.
USED_IN = frozenset({"data"})


def keeps(module: Any) -> bool:
    """Whether ``module``'s real Ray cluster may be kept for, or taken from, another module."""
    return Path(module.__file__).parent.name in USED_IN


_kept: dict[str, Any] = {"kwargs": None, "gcs": None, "before": set()}


def shutdown_ray(mod: Any, before: set[int]) -> None:
    """Shut real Ray down and wait (bounded) for the processes it started since ``before``."""
    mod.shutdown()
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not (descendants() - before), timeout=RAY_EXIT_WAIT_S, interval=0.1)


def _gcs(mod: Any) -> str | None:
    try:
        return mod.get_runtime_context().gcs_address if mod.is_initialized() else None
    except Exception:
        return None


def _as_fresh(mod: Any) -> bool:
    """Every resource free, no placement group's bundle resources, no named actor of a test."""
    total, free = mod.cluster_resources(), mod.available_resources()
    if any("_group_" in name for name in total):
        return False
    counted = [n for n in total if not n.startswith("node:") and n not in ("memory",)]
    if any(free.get(n, 0) < total[n] for n in counted if n != "object_store_memory"):
        return False
    # Only the driver's namespace, where a test's names would collide: Ray's libraries keep
    # named actors of their own elsewhere (Ray Data's stats actor), holding no resources.
    return not mod.util.list_named_actors()


def reuse(mod: Any, kwargs: dict) -> bool:
    """True when the kept cluster can serve a module that asks for ``kwargs``."""
    if kwargs not in KEEPABLE or kwargs != _kept["kwargs"] or _gcs(mod) != _kept["gcs"]:
        return False
    try:
        return bool(wait_until(lambda: _as_fresh(mod), timeout=IDLE_WAIT_S, interval=0.1))
    except Exception:
        return False


def started(mod: Any, kwargs: dict, before: set[int], allow: Callable[..., Any]) -> None:
    """A module started Ray with ``kwargs``: keep it after the module if they are keepable."""
    if kwargs not in KEEPABLE:
        return
    _kept.update(kwargs=dict(kwargs), gcs=_gcs(mod), before=set(before))
    allow(descendants() - before, shm=False)


def release(mod: Any, kwargs: dict, before: set[int]) -> None:
    """The module is done with Ray: keep the cluster if it is the kept one, else shut it down."""
    if kwargs in KEEPABLE and _kept["gcs"] is not None and _gcs(mod) == _kept["gcs"]:
        return
    shutdown_ray(mod, before)


def drop(mod: Any) -> None:
    """Shut down whatever Ray this process is connected to (the kept cluster included)."""
    before = _kept["before"] if _gcs(mod) == _kept["gcs"] else descendants()
    _kept.update(kwargs=None, gcs=None, before=set())
    with contextlib.suppress(Exception):
        if mod.is_initialized():
            shutdown_ray(mod, before)


def shutdown_kept() -> None:
    """At the session's end: the kept cluster goes, and its processes with it."""
    if _kept["gcs"] is None:
        return
    import sys

    mod = sys.modules.get("ray")
    if mod is not None:
        drop(mod)
