"""The one per-process connection to a cluster (no other module holds process state).

A driver sets it in `init()` and clears it in `shutdown()`; a worker sets it once at start.
"""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import CoreClient

_lock = threading.Lock()
_client: CoreClient | None = None
# The task or actor call running in this thread / asyncio task (workers only). A ContextVar, not
# a thread-local, so concurrent calls of an async actor each see their own.
_task: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "rayground_task", default=None
)


def current_client(required: bool = True) -> CoreClient | None:
    client = _client
    if client is None and required:
        from ..exceptions import RaySystemError

        raise RaySystemError(
            "rayground is not initialised in this process. Call rayground.init() first "
            "(or rayground.init(address='auto') to join a running cluster)."
        )
    return client


def set_client(client: CoreClient | None) -> None:
    global _client
    with _lock:
        _client = client


def task_context() -> dict[str, Any]:
    ctx = _task.get()
    return ctx if ctx is not None else {}


def set_task_context(ctx: dict[str, Any] | None) -> contextvars.Token:
    return _task.set(ctx)


def reset_task_context(token: contextvars.Token) -> None:
    _task.reset(token)
