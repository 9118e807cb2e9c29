"""One subscription to the cluster's event stream per kernel, shared by every listener.

The head keeps one position per connection, so two subscriptions on the driver's connection
would move each other's position; this module subscribes once (from "now") and fans batches out to
the task model (model.py), the routing, the live views and the run analysis. Listeners run on
the client's I/O thread: they must be quick and must not make requests (the reply would wait on
that same thread).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from .model import model

Listener = Callable[[list[tuple], int], None]  # (events, lost)

_lock = threading.Lock()
_listeners: list[Listener] = []
_client: Any = None
last_seq = 0  # the newest event delivered


def _on_batch(first_seq: int, events: list[tuple], lost: int) -> None:
    global last_seq
    if events:
        last_seq = events[-1][0]
    model.on_events(events, lost)
    for fn in list(_listeners):
        try:
            fn(events, lost)
        except Exception as exc:
            print(f"rayground: event listener failed: {exc!r}", file=sys.stderr)


def _ensure_subscribed() -> bool:
    """Subscribe on the current driver connection if not yet; False when not connected."""
    global _client, last_seq
    from .._core import context

    client = context.current_client(required=False)
    if client is None or not client.alive:
        return False
    if client is _client:
        return True
    seq = client.request("status", timeout=10)["event_seq"]
    last_seq = seq
    model.reset()  # a new cluster (or connection): its table is read again when needed
    client.subscribe(_on_batch, seq)
    _client = client
    return True


def add(listener: Listener) -> Callable[[], None]:
    """Call `listener(events, lost)` for every later batch; returns the function that removes it."""
    with _lock:
        _ensure_subscribed()
        _listeners.append(listener)

    def remove() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return remove


def catch_up(seq: int, timeout: float = 1.0) -> bool:
    """Wait until events up to `seq` (from a status reply) have been delivered."""
    import time

    deadline = time.monotonic() + timeout
    while last_seq < seq and time.monotonic() < deadline:
        time.sleep(0.005)
    return last_seq >= seq


def refresh() -> None:
    """After %ray_init: follow the (possibly new) cluster's stream."""
    with _lock:
        if _listeners:
            _ensure_subscribed()
