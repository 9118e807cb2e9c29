"""The `rayground` command line (also `python -m rayground`).

    rayground demo                  a two-minute headless tour: tasks, a DAG, actors, the store
    rayground status [--address A]  nodes, resources, tasks by state, object store use
    rayground list tasks|actors|objects|nodes [--filter key=value]

Errors are one clear line, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any


def _demo(args: argparse.Namespace) -> int:
    import numpy as np

    import rayground as ray
    from rayground.util import state

    def say(text: str) -> None:
        print(f"\n== {text}", flush=True)

    say("Starting a local cluster with 2 CPUs")
    started = time.perf_counter()
    ray.init(num_cpus=2)
    print(f"cluster resources: {ray.cluster_resources()}")

    @ray.remote
    def slow_square(x: int) -> int:
        time.sleep(0.5)
        return x * x

    say("Tasks: 4 calls of a 0.5 s function")
    t = time.perf_counter()
    print("results:", ray.get([slow_square.remote(i) for i in range(4)]))
    print(f"took {time.perf_counter() - t:.2f} s (sequential would take 2.0 s)")

    @ray.remote
    def fetch(source: str) -> str:
        print(f"fetching {source}")
        time.sleep(0.3)
        return f"data({source})"

    @ray.remote
    def combine(*parts: str) -> str:
        return " + ".join(parts)

    say("A task graph: two fetches feed one combine (worker output is prefixed)")
    print("result:", ray.get(combine.remote(fetch.remote("db"), fetch.remote("api"))))

    @ray.remote
    class Counter:
        def __init__(self) -> None:
            self.value = 0

        def increment(self) -> int:
            self.value += 1
            return self.value

    say("An actor keeps state between calls")
    counter = Counter.remote()
    print("increments:", ray.get([counter.increment.remote() for _ in range(5)]))

    say("The object store: put a 40 MB array once, read it from 4 tasks without copying")
    data = ray.put(np.arange(5_000_000, dtype=np.float64))

    @ray.remote
    def total(array: np.ndarray) -> float:
        return float(array.sum())

    print("sums:", ray.get([total.remote(data) for _ in range(4)]))
    rows = state.list_objects()
    big = [r for r in rows if r["object_size"] > 1_000_000]
    print(f"objects in the store: {len(rows)}, of which large: {len(big)} (one copy)")

    say("What ran (rayground.util.state.summarize_tasks)")
    for name, row in state.summarize_tasks()["cluster"]["summary"].items():
        print(f"  {name:<20} {row['state_counts']}")
    ray.shutdown()
    print(
        f"\nDone in {time.perf_counter() - started:.1f} s. Try the same code in a notebook: "
        "`bash scripts/demo.sh --lab` opens JupyterLab."
    )
    return 0


def _connect(address: str | None) -> Any:
    import rayground as ray

    ray.init(address=address or "auto", log_to_driver=False)
    return ray


def _status(args: argparse.Namespace) -> int:
    ray = _connect(args.address)
    from rayground._core import context

    info = context.current_client(required=True).request("status")  # type: ignore[union-attr]
    ray.shutdown()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    for node in info["nodes"]:
        total, avail = node["resources_total"], node["resources_available"]
        used_cpu = total.get("CPU", 0) - avail.get("CPU", 0)
        print(f"node {node['node_id'][:12]} {node['node_ip']} {node['state']}")
        print(f"  CPU {used_cpu:g}/{total.get('CPU', 0):g} used", end="")
        if total.get("GPU"):
            print(f", GPU {total['GPU'] - avail.get('GPU', 0):g}/{total['GPU']:g}", end="")
        print(f", workers {node['num_workers']}")
    print(
        f"object store: {info['store_used'] / 1e6:.1f} MB / {info['store_capacity'] / 1e6:.0f} "
        f"MB, spilled {info['spilled_bytes'] / 1e6:.1f} MB, {info['objects']} objects"
    )
    print("tasks: " + (", ".join(f"{k} {v}" for k, v in sorted(info["tasks"].items())) or "none"))
    print("actors: " + (", ".join(f"{k} {v}" for k, v in sorted(info["actors"].items())) or "none"))
    return 0


def _list(args: argparse.Namespace) -> int:
    ray = _connect(args.address)
    from rayground.util import state

    filters = []
    for item in args.filter or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"rayground: --filter takes key=value, got {item!r}")
        filters.append((key, "=", value))
    rows = getattr(state, f"list_{args.what}")(filters=filters, limit=args.limit)
    ray.shutdown()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    columns = {
        "tasks": ["task_id", "name", "state", "worker_pid", "error_message"],
        "actors": ["actor_id", "class_name", "name", "state", "pid"],
        "objects": ["object_id", "object_size", "where", "reference_count", "spilled"],
        "nodes": ["node_id", "node_ip", "state", "num_workers"],
    }[args.what]
    print("  ".join(f"{c:<18}" for c in columns))
    for row in rows:
        print("  ".join(f"{str(row.get(c, ''))[:18]:<18}" for c in columns))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rayground", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a short headless tour of the runtime")
    demo.set_defaults(func=_demo)
    status = sub.add_parser("status", help="show nodes, resources, tasks and the object store")
    status.add_argument("--address", help="cluster address (default: the one on this machine)")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)
    lister = sub.add_parser("list", help="list tasks, actors, objects or nodes")
    lister.add_argument("what", choices=["tasks", "actors", "objects", "nodes"])
    lister.add_argument("--address", help="cluster address (default: the one on this machine)")
    lister.add_argument("--filter", action="append", help="key=value, may be repeated")
    lister.add_argument("--limit", type=int, default=100)
    lister.add_argument("--json", action="store_true", help="print JSON")
    lister.set_defaults(func=_list)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except (ConnectionError, ValueError, TimeoutError) as exc:
        print(f"rayground: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
