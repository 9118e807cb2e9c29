"""The kernel's picture of the cluster's tasks, kept current from the event stream.

A live view that re-read every task row on each refresh would make the head serialise 10,000 rows
several times a second while it schedules them (measured: a 10,000-task run took twice as long under
a live DAG). Instead subscription.py feeds every task event here: a task's first event names it and
its consumed refs, later ones move its state. The views read rows shaped as the head's `list_tasks`
rows. The table is loaded once per cluster (tasks from before the kernel subscribed) and again only
if the stream reports lost events.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from .._core import config
from ..util.library_status import is_board_task

_CREATION = re.compile(r"-init\d+$")  # actor creation tasks: not drawn, never named in events


class TaskModel:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: dict[str, dict[str, Any]] = {}
        self._loaded_for: Any = None  # the client whose cluster the table was loaded from
        self._stale = True

    def reset(self) -> None:
        with self._lock:
            self.rows.clear()
            self._loaded_for = None
            self._stale = True

    # -- fed by subscription.py, on the client's I/O thread
    def on_events(self, events: list[tuple], lost: int) -> None:
        with self._lock:
            if lost:
                self._stale = True
            rows = self.rows
            for _seq, t, kind, ident, state, extra in events:
                if kind == "worker" and state in ("BLOCKED", "UNBLOCKED"):
                    _on_blocked(rows.get((extra or {}).get("task_id") or ""), state, t)
                    continue
                if kind != "task":
                    continue
                row = rows.get(ident)
                if row is None:
                    if extra and "name" in extra and state == "PENDING_ARGS_AVAIL":
                        rows[ident] = _new_row(ident, t, extra)
                    elif not _CREATION.search(ident):
                        self._stale = True  # a task we never saw begin: reload the table
                    continue
                row["state"] = state
                row["events"] = [*row["events"], (state, t)]
                if extra:
                    if "pid" in extra:
                        row["worker_pid"] = extra["pid"]
                        row["worker_id"] = extra.get("worker_id")
                    if "error" in extra:
                        row["error_message"] = extra["error"]
                if state == "RUNNING":
                    row["start_time_ms"] = int(t * 1000)
                elif state in ("FINISHED", "FAILED"):
                    row["end_time_ms"] = int(t * 1000)
                    started = (extra or {}).get("started")
                    if started is not None:  # a direct actor call's true start (events.py)
                        row["start_time_ms"] = int(started * 1000)
                        row["events"] = [
                            (s, started if s == "RUNNING" else when) for s, when in row["events"]
                        ]
            extra_rows = len(rows) - config.TASK_HISTORY
            if extra_rows > 0:  # as the head: forget the oldest
                for key in list(rows)[:extra_rows]:
                    del rows[key]

    # -- read by views and the analysis (any thread but the I/O thread)
    def tasks(self, backend: Any, complete: bool = True) -> list[dict[str, Any]]:
        """Rows of the cluster's tasks, oldest first. `complete=False` skips reading the table
        (enough for tasks submitted since the kernel subscribed) unless events were lost."""
        from .._core import context

        client = context.current_client(required=False)
        with self._lock:
            reload = self._stale if not complete else self._stale or self._loaded_for is not client
            if not complete and self._loaded_for is None and not self.rows:
                reload = False
        if reload:
            fresh = backend.tasks()
            with self._lock:
                # Rows seen in events while the table was read are newer: keep theirs.
                merged = {r["task_id"]: r for r in fresh}
                for key, row in self.rows.items():
                    if key not in merged or len(row["events"]) >= len(merged[key]["events"]):
                        merged[key] = row
                self.rows = dict(
                    sorted(merged.items(), key=lambda kv: kv[1].get("creation_time_ms") or 0)
                )
                self._loaded_for = client
                self._stale = False
        with self._lock:
            # The rows themselves, not copies (readers only read; an update replaces a row's
            # `events` list rather than appending to it). Calls on the library status board
            # are the views' own plumbing: left out of every view and analysis.
            return [r for r in self.rows.values() if not is_board_task(r["name"])]


def _on_blocked(row: dict[str, Any] | None, state: str, t: float) -> None:
    """A worker blocked in get/wait inside this task, or resumed: the task stream shows it."""
    if row is None:
        return
    spans = row.get("blocked") or []
    if state == "BLOCKED":
        row["blocked"] = [*spans, (t, None)]
    elif spans and spans[-1][1] is None:
        row["blocked"] = [*spans[:-1], (spans[-1][0], t)]


def _new_row(ident: str, t: float, extra: dict[str, Any]) -> dict[str, Any]:
    actor_id = extra.get("actor_id")
    return {
        "task_id": ident,
        "name": extra["name"],
        "func_or_class_name": extra["name"],
        "state": "PENDING_ARGS_AVAIL",
        "type": "ACTOR_TASK" if actor_id else "NORMAL_TASK",
        "actor_id": actor_id,
        "parent_task_id": extra.get("parent"),
        "depends_on": list(extra.get("deps") or ()),
        "worker_id": None,
        "worker_pid": None,
        "error_message": None,
        "events": [("PENDING_ARGS_AVAIL", t)],
        "creation_time_ms": int(t * 1000),
        "start_time_ms": None,
        "end_time_ms": None,
    }


model = TaskModel()
