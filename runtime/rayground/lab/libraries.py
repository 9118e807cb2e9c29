"""The libraries' state for the panel: read from the cluster's library status board
(`rayground.util.library_status`) by the feed's observer connection.

An observer may read objects but not call actors, so the feed does not ask the board: it notes
the board's calls as their rows arrive (`LibraryStatusBoard.publish` / `.drop`, whose result is
the whole board), and once per batch reads the result of the newest finished one. Its publisher
keeps that result alive until it sends the next, so a result already freed means a newer call
exists (read it next time: keep what we have) or the board has ended (nothing to show: the
feed sees the board actor's DEAD event).

The board's calls are left out of the task views: they are the views' own plumbing.
"""

from __future__ import annotations

from typing import Any

from .._core.client import CoreClient
from ..util.library_status import BOARD_CALLS, is_board_task

__all__ = ["LibraryReader", "is_board_task"]

# Board calls remembered (newest last); older ones are never read again.
_KEEP_CALLS = 64


class LibraryReader:
    """Feed-thread only (no locking)."""

    def __init__(self) -> None:
        self.board: dict[str, Any] = {}
        self.board_actor: str | None = None
        # The board's calls, by task id: {"name", "state", "end", "returns"} (newest last).
        self._calls: dict[str, dict[str, Any]] = {}
        self._read_end = 0  # end time (ms) of the call last read: older ones hold older boards

    def track(self, row: dict[str, Any]) -> bool:
        """A state-table task row: remember it if it is a board call; returns whether it is
        (then the task views leave it out)."""
        if not is_board_task(row.get("name")):
            return False
        self.board_actor = row.get("actor_id") or self.board_actor
        if row.get("state") == "FINISHED" and (row.get("end_time_ms") or 0) <= self._read_end:
            return True
        self._calls[row["task_id"]] = {
            "name": row.get("name"),
            "state": row.get("state"),
            "end": row.get("end_time_ms") or 0,
            "returns": list(row.get("returns") or ()),
        }
        while len(self._calls) > _KEEP_CALLS:
            del self._calls[next(iter(self._calls))]
        return True

    def on_task_event(self, task_id: str, state: str, when: float) -> bool:
        """A task event; returns whether the task is a known board call."""
        call = self._calls.get(task_id)
        if call is None:
            return False
        call["state"] = state
        if state == "FINISHED":
            call["end"] = int(when * 1000)
        return True

    def on_actor_dead(self, actor_id: str) -> bool:
        """An actor ended; if it was the board, there is nothing to show. Returns whether the
        board changed."""
        if actor_id != self.board_actor:
            return False
        self._calls.clear()
        changed = bool(self.board)
        self.board = {}
        return changed

    def refresh(self, client: CoreClient) -> bool:
        """Read the newest finished call's result; returns whether the board changed."""
        done = {
            t: c
            for t, c in self._calls.items()
            if c["state"] == "FINISHED" and c["name"] in BOARD_CALLS and c["returns"]
        }
        if not done:
            return False
        task_id = max(done, key=lambda t: done[t]["end"])
        self._read_end = done[task_id]["end"]
        for older in done:
            del self._calls[older]  # older calls hold older boards: never read them
        value = read_object(client, done[task_id]["returns"][0])
        if not isinstance(value, dict):
            return False
        board = {lib: dict(e) for lib, e in value.items() if isinstance(e, dict) and e}
        if board == self.board:
            return False
        self.board = board
        return True


def read_object(client: CoreClient, oid: str, timeout: float = 5.0) -> Any:
    """The value of an object of the cluster, or None when it is gone. The observer holds a
    reference while it reads (so the object cannot be freed under it), then lets go."""
    client.add_local_ref(oid, borrowed=True)
    try:
        return client.get_values([oid], timeout=timeout, blocking=False)[0]
    except Exception:  # freed meanwhile (a newer call exists), or its publisher died
        return None
    finally:
        client.release_local_ref(oid)
