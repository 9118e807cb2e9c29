"""What the live views and the lab feed cost while tasks run (issue 19's "under 5% of a core
while 10k tasks/s run").

    python bench/views_cost.py [--seconds 8] [--json bench/results/views.json]
                               [--md docs/benchmarks.md]

One rayground cluster; the driver submits no-op tasks in batches, as fast as it can, for a fixed
time, three times: with no view, with every live view of the notebook open (status, DAG, object
store, actors, timeline: what `%ray_views` shows, refreshing on the event stream on their own
threads), and with the JupyterLab panel's feed watching the cluster from another process (as the
Jupyter server runs it).

CPU is counted per process (user + system time from /proc), so other load on the machine does not
count against the views; the cost is given per 10,000 tasks/s: the views' extra CPU seconds in
the driver (or the feed process's own), over the tasks that ran, times 10,000. That is the share
of a core they take at that rate; under 0.05 is the target. Rates and CPU are measured, never
written by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "runtime"))
sys.path.insert(0, str(ROOT / "bench"))

from report import replace_section  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")
BATCH = 200


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc (includes all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def run_tasks(ray, seconds: float) -> tuple[int, float, float]:
    """No-op tasks in batches for `seconds`: (tasks run, wall seconds, driver CPU seconds)."""

    @ray.remote
    def noop() -> None:
        return None

    ray.get([noop.remote() for _ in range(BATCH)])  # workers up and the function exported
    done = 0
    cpu0, t0 = cpu_seconds(os.getpid()), time.monotonic()
    while time.monotonic() - t0 < seconds:
        ray.get([noop.remote() for _ in range(BATCH)])
        done += BATCH
    return done, time.monotonic() - t0, cpu_seconds(os.getpid()) - cpu0


FEED_CHILD = """
import sys, threading, time
sys.path.insert(0, sys.argv[1])
from rayground._core import lifetime
from rayground.lab.feed import ClusterFeed
session = next(s for s in lifetime.list_local_sessions() if s.pid == int(sys.argv[2]))
got = []
feed = ClusterFeed(session, got.append)
feed.start()
feed.watch(True)
print("READY", flush=True)
sys.stdin.readline()  # the parent says when the workload is over
print(len(got), flush=True)
feed.stop()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="workload time per case")
    parser.add_argument("--json", default="bench/results/views.json", help="figures (JSON)")
    parser.add_argument("--md", default="docs/benchmarks.md", help="where its section goes")
    args = parser.parse_args()

    import rayground as ray
    from rayground.jupyter import views

    ray.init(num_cpus=2)
    results: dict[str, dict[str, float]] = {}
    try:
        head_pid = next(
            s.pid
            for s in __import__("rayground._core.lifetime", fromlist=["x"]).list_local_sessions()
            if s.owner_pid == os.getpid()
        )
        tasks, wall, cpu = run_tasks(ray, args.seconds)
        results["no views"] = {"tasks": tasks, "wall_s": wall, "driver_cpu_s": cpu}

        opened = [views.open_view(kind) for kind in views.VIEWS]
        tasks, wall, cpu = run_tasks(ray, args.seconds)
        renders = sum(view.renders for view in opened)
        for view in opened:
            view.stop()
        results["live views in the driver"] = {
            "tasks": tasks,
            "wall_s": wall,
            "driver_cpu_s": cpu,
            "renders": renders,
        }

        child = subprocess.Popen(
            [sys.executable, "-c", FEED_CHILD, str(ROOT / "runtime"), str(head_pid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None and child.stdin is not None
            if child.stdout.readline().strip() != "READY":
                raise RuntimeError("the feed process did not start")
            feed_cpu0 = cpu_seconds(child.pid)
            tasks, wall, cpu = run_tasks(ray, args.seconds)
            feed_cpu = cpu_seconds(child.pid) - feed_cpu0
            child.stdin.write("done\n")
            child.stdin.flush()
            messages = int(child.stdout.readline())
        finally:
            child.wait(timeout=30)
        results["lab feed (its own process)"] = {
            "tasks": tasks,
            "wall_s": wall,
            "driver_cpu_s": cpu,
            "feed_cpu_s": feed_cpu,
            "messages": messages,
        }
    finally:
        ray.shutdown()

    base = results["no views"]
    base_cpu_per_task = base["driver_cpu_s"] / base["tasks"]
    print(f"{'case':32} {'tasks/s':>9} {'driver CPU/task':>16} {'cost at 10k tasks/s':>20}")
    for case, r in results.items():
        rate = r["tasks"] / r["wall_s"]
        per_task = r["driver_cpu_s"] / r["tasks"]
        if case == "no views":
            extra = 0.0
        elif "feed_cpu_s" in r:
            extra = r["feed_cpu_s"] / r["tasks"]
        else:
            extra = per_task - base_cpu_per_task
        r["rate_per_s"] = rate
        r["share_of_a_core_at_10k_per_s"] = extra * 10_000
        print(
            f"{case:32} {rate:9.0f} {per_task * 1e6:13.1f} us {extra * 10_000:19.3f}"
            + ("" if case == "no views" else " core")
        )
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    replace_section(Path(args.md), HEADING, section(results, args.seconds))
    return 0


HEADING = "## Live views and the lab feed"


def section(results: dict[str, dict[str, float]], seconds: float) -> str:
    """The markdown section for docs/benchmarks.md, from this run's figures."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        HEADING,
        "",
        f"Measured by `python bench/views_cost.py --seconds {seconds:g}` on {when} (rayground "
        "only: what its own views cost). No-op tasks in batches of "
        f"{BATCH} for {seconds:g} s per case; CPU is each process's own user + system time, so "
        "other load does not count. The cost is the share of a core at 10,000 tasks/s: the "
        "driver's extra CPU per task with every live view open, and the feed process's CPU per "
        "task. Target: under 0.05 each.",
        "",
        "| Case | Tasks/s | Driver CPU per task | Share of a core at 10k tasks/s | Target met |",
        "|---|---|---|---|---|",
    ]
    for case, r in results.items():
        share = r["share_of_a_core_at_10k_per_s"]
        met = "—" if case == "no views" else ("yes" if share < 0.05 else "**no**")
        lines.append(
            f"| {case} | {r['rate_per_s']:,.0f} | {r['driver_cpu_s'] / r['tasks'] * 1e6:.1f} µs "
            f"| {share:.3f} | {met} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
