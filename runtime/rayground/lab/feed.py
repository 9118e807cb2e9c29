"""ClusterFeed: one observer connection to one cluster, and what the panel shows of it.

Data flow (one feed per live cluster on this machine, each on its own thread):

    head --EVENTS--> CoreClient I/O thread --_on_events--> deque + wake
                                                              |
    feed thread: every wake (at most ~4/s) drains the events, applies task state changes to its
    task table, asks the head for the rows of tasks it has not seen (`list_tasks`, newest first),
    re-reads objects/actors when their events arrived, `status` once a second
                                                              |
                                              publish(message) --> ClusterHub (IOLoop) --> browsers

The event stream says *that* something changed; rows come from the head's state tables (events do
not carry names or dependencies). The feed asks for details (tasks, objects, actors) only while a
browser watches this cluster; otherwise it reads `status` only, for the cluster list. When the
connection ends while the head is still alive the feed reconnects; when the head is gone it ends.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .._core.client import CoreClient
from .._core.lifetime import SessionInfo, pid_alive
from ..jupyter.dag import compact_task, first_line
from .libraries import LibraryReader

# The panel keeps at most this many tasks per cluster (newest win); a larger DAG is grouped by
# function in the browser anyway, and this bounds the server's memory and each snapshot's size.
MAX_TASKS = 20_000
# Object table rows sent to the browser (largest first); the totals always cover every object.
MAX_OBJECTS = 2_000
_TICK = 0.25  # seconds between batches pushed to browsers: smooth enough, few messages
_STATUS_EVERY = 1.0
_TABLES_EVERY = 2.0  # objects/actors re-read at least this often while watched (refcounts change)

Publish = Callable[[dict[str, Any]], None]


def session_id(session: SessionInfo) -> str:
    """The id the panel uses for a cluster: its session directory's name (unique, stable)."""
    return os.path.basename(session.session_dir.rstrip("/"))


def held_by(holders: list[str], pins: int, names: dict[str, str]) -> list[str]:
    """What keeps an object alive, in words: the processes holding a ref (a variable, a list
    of refs, or an array from `get` that reads the store without copying), the pending tasks
    it is an argument of, and the running tasks that pin it while they read it."""
    out = []
    for holder in holders:
        if holder.startswith("task:"):
            out.append("a pending task's arguments")
        else:
            out.append(names.get(holder, "a driver (notebook or script)"))
    if pins > 0:
        out.append(f"pinned by {pins} running task(s) reading it")
    return sorted(set(out))


def compact_object(row: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    names = names or {}
    owner = row.get("owner")
    return {
        "id": row["object_id"],
        "size": int(row.get("object_size") or 0),
        "where": row.get("where"),
        "spilled": bool(row.get("spilled")),
        "status": row.get("status"),
        "owner": row.get("owner"),
        "task_id": row.get("task_id"),
        "refs": int(row.get("reference_count") or 0),
        "pins": int(row.get("pins") or 0),
        "holders": list(row.get("holders") or ())[:8],
        "owner_name": names.get(owner, "a driver (notebook or script)") if owner else "",
        "held_by": held_by(list(row.get("holders") or ()), int(row.get("pins") or 0), names),
        "created": row.get("created"),
        # Where its bytes were written, and the nodes it was copied to since: the task stream
        # marks those copies as transfers between nodes.
        "node": row.get("node_id"),
        "copies": list(row.get("copies") or ())[:8],
    }


def compact_actor(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["actor_id"],
        "class_name": row.get("class_name"),
        "name": row.get("name") or "",
        "state": row.get("state"),
        "pid": row.get("pid"),
        "calls_done": row.get("calls_done", 0),
        "calls_queued": row.get("calls_queued", 0),
        "restarts": row.get("num_restarts", 0),
        "death_cause": first_line(row.get("death_cause")),
    }


class ClusterFeed:
    """Follows one cluster on its own thread; see the module docstring."""

    def __init__(self, session: SessionInfo, publish: Publish) -> None:
        self.session = session
        self.id = session_id(session)
        self._publish = publish
        self.status: dict[str, Any] | None = None
        self.error: str | None = None
        self.connected = False
        self.ended = False
        self._watched = False
        self._snapshot_wanted = False
        self._lock = threading.Lock()
        self._events: collections.deque = collections.deque()
        self._lost = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._client: CoreClient | None = None
        self.tasks: dict[str, dict[str, Any]] = {}
        self._worker_nodes: dict[str, str] = {}  # worker pid -> node id, kept after it exits
        self.libraries = LibraryReader()
        self._thread = threading.Thread(
            target=self._run, name=f"rayground-lab-feed-{self.id}", daemon=True
        )

    # ------------------------------------------------------------------ control (any thread)
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        self.join(timeout)

    @property
    def watched(self) -> bool:
        return self._watched

    def join(self, timeout: float) -> None:
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def watch(self, on: bool) -> None:
        """Follow details (tasks, objects, actors) or not; turning on sends a fresh snapshot."""
        with self._lock:
            if on:
                self._snapshot_wanted = True
            self._watched = on
        self._wake.set()

    def request(self, what: str, args: dict | None = None, timeout: float = 10.0) -> Any:
        client = self._client
        if client is None or not client.alive:
            raise ConnectionError(f"not connected to cluster {self.id}")
        return client.request(what, args or {}, timeout=timeout)

    # ------------------------------------------------------------------ the feed thread
    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                self._connect()
                delay = 0.2
                self._follow()
            except Exception as exc:  # any failure: report it, then retry or end
                self.error = f"{type(exc).__name__}: {exc}"
            finally:
                self._disconnect()
            if self._stop.is_set() or not pid_alive(self.session.pid):
                break
            # The head lives but the connection failed (it is busy starting, or restarted its
            # listener): try again, backing off so a broken cluster costs little.
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)
        self.ended = True
        self._publish({"type": "cluster_ended", "cluster": self.id})

    def _connect(self) -> None:
        token = self.session.read_token()
        client = CoreClient(
            self.session.address,
            token,
            role="observer",
            info={"name": "jupyter-server", "purpose": "rayground lab panel"},
            connect_timeout=5.0,
            head_pid=self.session.pid,
            on_dead=lambda reason: self._wake.set(),
        )
        self._client = client
        self.connected = True
        self.error = None
        self.status = client.request("status", timeout=10)
        self.status.pop("time", None)
        with self._lock:
            self._events.clear()
            self._snapshot_wanted = True
        client.subscribe(self._on_events, int(self.status.get("event_seq", 0)))

    def _disconnect(self) -> None:
        self.connected = False
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _on_events(self, first_seq: int, events: list, lost: int) -> None:
        # Runs on the client's I/O thread: only queue and wake (the head must never wait on us).
        with self._lock:
            self._events.extend(events)
            self._lost += lost
        self._wake.set()

    def _follow(self) -> None:
        client = self._client
        assert client is not None
        last_status = time.monotonic()
        last_tables = 0.0
        while not self._stop.is_set():
            self._wake.wait(_STATUS_EVERY)
            self._wake.clear()
            if self._stop.is_set():
                return
            if not client.alive:
                raise ConnectionError("the cluster closed the connection")
            self._stop.wait(_TICK)  # let a burst of events gather into one batch
            with self._lock:
                events = list(self._events)
                self._events.clear()
                lost, self._lost = self._lost, 0
                watched = self._watched
                snapshot = self._snapshot_wanted and watched
                self._snapshot_wanted = False
            now = time.monotonic()
            if events or now - last_status >= _STATUS_EVERY:
                status = client.request("status", timeout=10)
                status.pop("time", None)  # changes every call; not news
                if status != self.status:
                    self.status = status
                    self._publish({"type": "status", "cluster": self.id, "status": status})
                last_status = now
            if not watched:
                continue
            if snapshot or lost:
                self._send_snapshot(client)
                last_tables = now
                continue
            self._apply_task_events(client, events)
            self._update_libraries(client, events)
            kinds = {e[2] for e in events}
            due = now - last_tables
            if (kinds & {"object", "actor"} and due >= _TICK * 2) or due >= _TABLES_EVERY:
                self._send_tables(client)
                last_tables = now

    def _send_snapshot(self, client: CoreClient) -> None:
        rows = client.request("list_tasks", {"limit": MAX_TASKS}, timeout=30)
        self.libraries = LibraryReader()
        self.tasks = {
            row["task_id"]: compact_task(row) for row in rows if not self.libraries.track(row)
        }
        self.libraries.refresh(client)
        objects, actors, placement = self._tables(client)
        self._publish(
            {
                "type": "snapshot",
                "cluster": self.id,
                "tasks": list(self.tasks.values()),
                "objects": objects,
                "actors": actors,
                "placement": placement,
                "status": self.status,
                "libraries": self.libraries.board,
            }
        )

    def _update_libraries(self, client: CoreClient, events: list) -> None:
        """The board's newest state, sent when it changed (libraries.py)."""
        changed = False
        for _seq, _when, kind, ident, state, _extra in events:
            if kind == "actor" and state == "DEAD":
                changed = self.libraries.on_actor_dead(ident) or changed
        changed = self.libraries.refresh(client) or changed
        if changed:
            self._publish(
                {"type": "libraries", "cluster": self.id, "libraries": self.libraries.board}
            )

    def _apply_task_events(self, client: CoreClient, events: list) -> None:
        changed: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        blocks: list[tuple[float, str, str]] = []
        for _seq, when, kind, ident, state, extra in events:
            if kind == "worker" and state in ("BLOCKED", "UNBLOCKED"):
                blocks.append((when, state, (extra or {}).get("task_id") or ""))
                continue
            if kind != "task" or self.libraries.on_task_event(ident, state, when):
                continue
            task = self.tasks.get(ident)
            if task is None:
                if ident not in missing:
                    missing.append(ident)
                continue
            if task["state"] != state:
                task["state"] = state
                if state == "RUNNING":
                    task["start_ms"] = int(when * 1000)
                    task["pid"] = (extra or {}).get("pid", task["pid"])
                    if not task.get("node") and ident not in missing:
                        # Read before it was placed: the row now names its node (the stream's
                        # lane, a transfer's end), which the event does not carry.
                        missing.append(ident)
                elif state in ("FINISHED", "FAILED"):
                    task["end_ms"] = int(when * 1000)
                    started = (extra or {}).get("started")
                    if started is not None:  # a direct actor call's true start (events.py)
                        task["start_ms"] = int(started * 1000)
                changed[ident] = task
        if missing:
            # New tasks are the newest rows: ask for about as many as we miss (plus slack for
            # those submitted since), and fall back to a larger window once.
            want = set(missing)
            for limit in (len(want) + 256, MAX_TASKS):
                rows = client.request("list_tasks", {"limit": limit}, timeout=30)
                for row in rows:
                    tid = row["task_id"]
                    if self.libraries.track(row):  # the board's own calls: not shown as tasks
                        want.discard(tid)
                        continue
                    if tid in want or tid in changed or tid not in self.tasks:
                        task = compact_task(row)
                        known = self.tasks.get(tid)
                        if known and known.get("blocked"):  # the head's row has no spans
                            task["blocked"] = known["blocked"]
                        self.tasks[tid] = task
                        changed[tid] = task
                        want.discard(tid)
                if not want or len(rows) < limit:
                    break
        # A worker blocked in get/wait inside its task, or resumed: the task stream shows the
        # span (the head keeps no record of it). Applied after the new tasks are read, since a
        # task may block in the batch that brought it.
        for when, state, task_id in blocks:
            task = self.tasks.get(task_id)
            if task is None:
                continue
            at = int(when * 1000)
            spans = task.setdefault("blocked", [])
            if state == "BLOCKED":
                spans.append((at, None))
            elif spans and spans[-1][1] is None:
                spans[-1] = (spans[-1][0], at)
            changed[task_id] = task
        if not changed:
            return
        removed = []
        while len(self.tasks) > MAX_TASKS:
            oldest = next(iter(self.tasks))
            del self.tasks[oldest]
            changed.pop(oldest, None)
            removed.append(oldest)
        self._publish(
            {
                "type": "tasks",
                "cluster": self.id,
                "upsert": list(changed.values()),
                "removed": removed,
            }
        )

    def _tables(self, client: CoreClient) -> tuple[dict[str, Any], list[dict[str, Any]], dict]:
        # Where each worker runs (the task stream's lanes by node) and whose client id is whose
        # (the object store's owners and holders, named).
        workers = client.request("list_workers", timeout=30)
        names = {w["client_id"]: f"worker pid {w['pid']}" for w in workers if w.get("client_id")}
        self._worker_nodes.update({str(w["pid"]): w["node_id"] for w in workers})
        placement = {
            "workers": dict(self._worker_nodes),
            "nodes": {
                n["node_id"]: n["node_ip"] + (" (head)" if n.get("is_head_node") else "")
                for n in client.request("list_nodes", timeout=30)
            },
        }
        objects = client.request("list_objects", {"limit": 1_000_000}, timeout=30)
        objects.sort(key=lambda r: int(r.get("object_size") or 0), reverse=True)
        status = self.status or {}
        table = {
            "rows": [compact_object(r, names) for r in objects[:MAX_OBJECTS]],
            "count": len(objects),
            "used": status.get("store_used", sum(int(r.get("object_size") or 0) for r in objects)),
            "capacity": status.get("store_capacity"),
            "spilled_bytes": status.get("spilled_bytes", 0),
        }
        actors = [compact_actor(r) for r in client.request("list_actors", timeout=30)]
        return table, actors, placement

    def _send_tables(self, client: CoreClient) -> None:
        objects, actors, placement = self._tables(client)
        self._publish(
            {
                "type": "tables",
                "cluster": self.id,
                "objects": objects,
                "actors": actors,
                "placement": placement,
            }
        )
