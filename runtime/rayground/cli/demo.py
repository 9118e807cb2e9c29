"""`rayground demo`: a short headless tour of the runtime on a private cluster."""

from __future__ import annotations

import argparse
import time
from typing import Any


def add_parser(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="run a short headless tour of the runtime",
        description="Start a private cluster, run tasks, a task graph, an actor and the object "
        "store, then stop it.",
    )
    demo.set_defaults(func=_demo)


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
