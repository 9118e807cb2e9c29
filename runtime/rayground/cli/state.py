"""Commands that read a cluster's state as an observer (no job, nothing changed): `status`,
`memory`, `list` and `timeline`."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from typing import Any

from .args import ADDRESS_HELP, UsageError
from .output import fmt_bytes, table, who


def add_parsers(sub: Any) -> None:
    status = sub.add_parser(
        "status",
        help="nodes, resources used/total, tasks by state, object store use",
        description="Show the cluster's nodes, resources used/total, tasks by state, actors and "
        "object store use.",
    )
    status.add_argument("--address", help=ADDRESS_HELP)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)

    memory = sub.add_parser(
        "memory",
        help="objects in the store and what holds each (like `ray memory`)",
        description="List every object with its size, where it lives (inline, shared memory, "
        "spilled), its owner and each reference that keeps it alive: LOCAL_REFERENCE (a "
        "process holds an ObjectRef), USED_BY_PENDING_TASK, CAPTURED_IN_OBJECT (another "
        "object contains its ref), ACTOR_HANDLE, PINNED_IN_MEMORY.",
    )
    memory.add_argument("--address", help=ADDRESS_HELP)
    memory.add_argument(
        "--sort-by",
        type=str.upper,
        choices=["OBJECT_SIZE", "REFERENCE_TYPE", "PID"],
        default="OBJECT_SIZE",
        help="row order (default OBJECT_SIZE, largest first)",
    )
    memory.add_argument(
        "--units", type=str.upper, choices=["B", "KB", "MB", "GB"], default="MB", help="size unit"
    )
    memory.add_argument("--stats-only", action="store_true", help="only the totals")
    memory.add_argument("--json", action="store_true", help="print JSON rows")
    memory.set_defaults(func=_memory)

    lister = sub.add_parser(
        "list",
        help="list tasks, actors, objects, nodes, workers or jobs",
        description="List the cluster's tasks, actors, objects, nodes, workers or jobs. "
        "Filters compare a column: --filter state=RUNNING --filter name!=f.",
    )
    lister.add_argument("what", choices=sorted(_LIST_COLUMNS), help="what to list")
    lister.add_argument("--address", help=ADDRESS_HELP)
    lister.add_argument(
        "--filter", action="append", metavar="KEY=VALUE", help="key=value or key!=value; repeatable"
    )
    lister.add_argument("--limit", type=int, default=100, help="at most this many rows (newest)")
    lister.add_argument("--json", action="store_true", help="print JSON with every column")
    lister.set_defaults(func=_list)

    timeline = sub.add_parser(
        "timeline",
        help="write a Chrome-trace JSON of recent tasks",
        description="Write a Chrome-trace (Trace Event) JSON of recent task runs, one row per "
        "worker process, like `ray timeline`. Open it in https://ui.perfetto.dev or "
        "chrome://tracing.",
    )
    timeline.add_argument("--address", help=ADDRESS_HELP)
    timeline.add_argument(
        "-o", "--output", help="file to write (default: <tmp>/rayground-timeline-<time>.json)"
    )
    timeline.add_argument(
        "--limit", type=int, default=100_000, help="at most this many recent tasks"
    )
    timeline.set_defaults(func=_timeline)


@contextlib.contextmanager
def _observer(address: str | None) -> Iterator[Any]:
    """A connection that can read the cluster's state without being a driver (no job)."""
    from rayground._core import api
    from rayground._core.client import CoreClient

    target, token, head_pid = api._resolve_address(
        address or os.environ.get("RAYGROUND_ADDRESS") or "auto"
    )
    client = CoreClient(
        target,
        token,
        role="observer",
        info={"name": "rayground-cli", "command": " ".join(sys.argv[1:3])},
        head_pid=head_pid,
    )
    try:
        yield client
    finally:
        client.close()


def _status(args: argparse.Namespace) -> int:
    with _observer(args.address) as client:
        info = client.request("status")
        address = client.session.get("addresses", [client.address])
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    tcp = [a[len("tcp://") :] for a in address if a.startswith("tcp://")]
    print(f"cluster at {tcp[0] if tcp else address[0]}")
    for node in info["nodes"]:
        total, avail = node["resources_total"], node["resources_available"]
        print(f"node {node['node_id'][:12]} {node['node_ip']} {node['state']}")
        used = []
        for key in sorted(total):
            if key in ("memory", "object_store_memory") or key.startswith("node:"):
                continue
            used.append(f"{key} {total[key] - avail.get(key, 0):g}/{total[key]:g}")
        print(f"  used: {', '.join(used)}; workers {node['num_workers']}")
    print(
        f"object store: {fmt_bytes(info['store_used'])} / {fmt_bytes(info['store_capacity'])}"
        f" in memory, {fmt_bytes(info['spilled_bytes'])} spilled, {info['objects']} objects"
    )
    print("tasks: " + (", ".join(f"{k} {v}" for k, v in sorted(info["tasks"].items())) or "none"))
    print("actors: " + (", ".join(f"{k} {v}" for k, v in sorted(info["actors"].items())) or "none"))
    groups = info.get("placement_groups", [])
    states = Counter(g["state"] for g in groups)
    shown = ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    print(f"placement groups: {shown or 'none'}")
    for g in groups:
        if g["state"] != "CREATED":  # why it waits: infeasible, or for resources to free up
            print(f"  {g['id'][:12]} {g['name'] or '(no name)'} {g['state']}: {g['why']}")
    running = [j for j in info.get("jobs", []) if j.get("status") == "RUNNING"]
    print(f"drivers connected: {len(running)}")
    return 0


_LIST_COLUMNS = {
    "tasks": ["task_id", "name", "state", "type", "worker_pid", "attempt_number", "error_message"],
    "actors": ["actor_id", "class_name", "name", "namespace", "state", "pid", "is_detached"],
    "objects": ["object_id", "object_size", "where", "reference_count", "task_id"],
    "nodes": ["node_id", "node_ip", "state", "is_head_node", "num_workers"],
    "workers": ["worker_id", "pid", "state", "actor_id", "task_id"],
    "jobs": ["job_id", "status", "pid"],
}


def _parse_filter(item: str) -> tuple[str, str, Any]:
    for op in ("!=", "="):
        key, sep, value = item.partition(op)
        if sep and key.strip():
            return key.strip(), op, value.strip()
    raise UsageError(f"--filter takes key=value or key!=value (e.g. state=RUNNING), got {item!r}")


def _list(args: argparse.Namespace) -> int:
    from rayground.util.state import _apply_filters

    filters = [_parse_filter(item) for item in args.filter or []]
    with _observer(args.address) as client:
        rows = client.request(f"list_{args.what}", {"limit": 10**9 if filters else args.limit})
    try:
        rows = _apply_filters(rows, filters)[-args.limit :] if args.limit else []
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print(f"No {args.what} match." if filters else f"No {args.what}.")
        return 0
    table(rows, _LIST_COLUMNS[args.what])
    print(f"({len(rows)} {args.what})")
    return 0


def _memory(args: argparse.Namespace) -> int:
    with _observer(args.address) as client:
        rows = client.request("memory", timeout=30)
        status = client.request("status")
    sort_keys = {
        "OBJECT_SIZE": lambda r: -r["object_size"],
        "REFERENCE_TYPE": lambda r: r["reference_type"],
        "PID": lambda r: (r["pid"] is None, r["pid"] or 0),
    }
    rows.sort(key=sort_keys[args.sort_by])
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    unit = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}[args.units]
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    print(f"======== Object references status: {stamp} ========")
    if not args.stats_only:
        for ip in sorted({r["node_ip"] for r in rows}):
            print(f"--- Summary for node address: {ip} ---")
            shown = [
                {
                    "object_id": r["object_id"],
                    "size": f"{r['object_size'] / unit:.2f} {args.units}",
                    "where": r["where"],
                    "owner": who(r["owner_role"], r["owner_pid"]),
                    "reference_type": r["reference_type"],
                    "held_by": who(r["role"], r["pid"], r["via"]),
                }
                for r in rows
                if r["node_ip"] == ip
            ]
            table(shown, ["object_id", "size", "where", "owner", "reference_type", "held_by"])
        if not rows:
            print("No objects in the store.")
    objects = {r["object_id"]: r for r in rows}
    inline = sum(1 for r in objects.values() if r["where"] == "inline")
    print("--- Aggregate object store stats across all nodes ---")
    cap = status["store_capacity"] or 1
    print(
        f"Shared memory: {status['store_used'] / unit:.2f} {args.units} of "
        f"{cap / unit:.2f} {args.units} ({100 * status['store_used'] / cap:.0f}% full), "
        f"spilled to disk: {status['spilled_bytes'] / unit:.2f} {args.units}; "
        f"{len(objects)} objects ({inline} small ones inline in messages)"
    )
    return 0


def _timeline(args: argparse.Namespace) -> int:
    from rayground._core.trace import cluster_trace

    with _observer(args.address) as client:
        trace = cluster_trace(client, args.limit)
    path = args.output or os.path.join(
        tempfile.gettempdir(),
        f"rayground-timeline-{datetime.datetime.now().strftime('%Y-%m-%d_%H-%M-%S')}.json",
    )
    with open(path, "w") as f:
        json.dump(trace, f)
    runs = sum(1 for e in trace if e["ph"] == "X")
    print(
        f"Wrote {runs} task runs to {path}. Open it in https://ui.perfetto.dev or chrome://tracing."
    )
    return 0
