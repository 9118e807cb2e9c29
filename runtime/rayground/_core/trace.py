"""Chrome-trace JSON of the cluster's task runs, as `ray timeline` writes it: for
`rayground.timeline()` and `rayground timeline`. Open it in https://ui.perfetto.dev or
chrome://tracing."""

from __future__ import annotations

import time
from typing import Any


def cluster_trace(client: Any, limit: int) -> list[dict[str, Any]]:
    """The trace of the `limit` most recent tasks of the cluster `client` is connected to."""
    rows = client.request("list_tasks", {"limit": limit}, timeout=60)
    nodes = {n["node_id"]: n["node_ip"] for n in client.request("list_nodes")}
    return chrome_trace(rows, nodes, time.time())


def chrome_trace(
    rows: list[dict[str, Any]], nodes: dict[str, str], now: float
) -> list[dict[str, Any]]:
    """Chrome-trace events: one "X" (complete) event per task run; a process per node and a
    thread per worker, as `ray timeline` lays them out."""
    events: list[dict[str, Any]] = []
    node_pid = {node_id: i for i, node_id in enumerate(nodes, start=1)}
    workers: set[tuple[int, int]] = set()
    for row in rows:
        times = dict(row.get("events") or [])
        start = times.get("RUNNING")
        if start is None or row.get("worker_pid") is None:
            continue  # never ran (pending, cancelled before start)
        end = times.get("FINISHED") or times.get("FAILED") or now
        pid = node_pid.setdefault(row.get("node_id") or "?", len(node_pid) + 1)
        tid = int(row["worker_pid"])
        workers.add((pid, tid))
        events.append(
            {
                "name": row["name"],
                "cat": f"task::{row['name']}",
                "ph": "X",
                "pid": pid,
                "tid": tid,
                "ts": start * 1e6,
                "dur": max(end - start, 0.0) * 1e6,
                "cname": "rail_response" if row["state"] == "FAILED" else "generic_work",
                "args": {
                    "task_id": row["task_id"],
                    "state": row["state"],
                    "type": row.get("type"),
                    "actor_id": row.get("actor_id"),
                    "attempt": row.get("attempt_number"),
                    "error": row.get("error_message"),
                },
            }
        )
    meta: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": pid, "args": {"name": f"Node {nodes.get(n, n)}"}}
        for n, pid in node_pid.items()
    ]
    meta += [
        {"name": "thread_name", "ph": "M", "pid": p, "tid": t, "args": {"name": f"worker {t}"}}
        for p, t in sorted(workers)
    ]
    return meta + events
