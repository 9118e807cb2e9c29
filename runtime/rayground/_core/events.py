"""The cluster's event stream: every state change, numbered, in a bounded ring.

Each event is a tuple `(seq, time, kind, id, state, extra)`: kind is "task", "actor", "object",
"node" or "worker"; `extra` is a small dict or None. Times are those of the change, not of the
event's sending: a direct actor call (direct_calls.py) reaches the head's tables after it ran, so
its FINISHED event has the worker's end time and `extra["started"]`, its true start, which
replaces the time of its RUNNING event (that one is when the head heard of the call). Every
finished task's event carries the worker's own times the same way (a queued task's RUNNING is
when the head heard the previous one end; tiny tasks' reports arrive batched).

Subscribers (the Jupyter views, the lab panel, the CLI) ask for events after the last sequence
number they saw; the head pushes them in batches. A subscriber that falls further behind than the
ring holds is told how many it lost and resynchronises from the state tables, so neither side's
memory grows with a slow reader.
"""

from __future__ import annotations

import collections
import itertools
import time
from typing import Any


class EventLog:
    def __init__(self, capacity: int) -> None:
        self._ring: collections.deque = collections.deque(maxlen=capacity)
        self.seq = 0
        # The head sets this once per loop turn (tick): events of one turn share a timestamp,
        # which spares a clock call per event (a tiny task makes about eight).
        self.now = time.time()

    def tick(self) -> float:
        self.now = time.time()
        return self.now

    def emit(
        self,
        kind: str,
        ident: str,
        state: str,
        extra: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> None:
        self.seq += 1
        self._ring.append((self.seq, self.now if at is None else at, kind, ident, state, extra))

    def since(self, after_seq: int, limit: int) -> tuple[list[tuple], int]:
        """Events with seq > after_seq (at most `limit`) and how many were lost before them."""
        ring = self._ring
        if not ring or after_seq >= self.seq:
            return [], 0
        first = ring[0][0]
        lost = max(0, first - after_seq - 1)
        newer = self.seq - max(after_seq, first - 1)  # how many events to return, from the end
        # Walk from the newest end: subscribers are usually close behind, so this is O(newer).
        tail = list(itertools.islice(reversed(ring), newer))
        tail.reverse()
        return tail[:limit], lost
