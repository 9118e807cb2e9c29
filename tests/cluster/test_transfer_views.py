"""Transfers between nodes in the panel's feed: a task on a second node that takes a large result
made on the head pulls a copy, and the feed's object table says where the object was written
and which node copied it, which the task stream draws as a transfer (extension/src/stream.ts,
whose jest tests check the drawing model); `%ray_timeline` gathers the same copies."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from _cluster import child_env, join_node, start_standalone, stop_all

from rayground._core import lifetime
from rayground.jupyter import timeline
from rayground.lab.feed import ClusterFeed

DRIVER = """
import sys
import time
from pathlib import Path
import numpy as np
import rayground as ray
ray.init(address="auto")

@ray.remote(resources={"node:127.0.0.1": 0.01})
def make():
    return np.ones(2_000_000, np.uint8)

@ray.remote(resources={"second": 1})
def use(a):
    return int(a.sum())

ref = make.remote()
print("sum", ray.get(use.remote(ref), timeout=60), flush=True)
# Keep the object (and its copy) alive until the test has seen it in the feed.
marker = Path(sys.argv[1])
for _ in range(600):
    if marker.exists():
        break
    time.sleep(0.1)
"""


def test_feed_reports_the_copy_a_task_on_another_node_pulled(tmp_path: Path) -> None:
    cluster = start_standalone("--num-cpus", "1", "--object-store-memory", "200MB")
    feed = None
    driver = None
    try:
        joined = join_node(cluster, "127.0.0.2", "--num-cpus", "1", "--resources", '{"second": 1}')
        assert joined.returncode == 0, joined.stderr
        (session,) = [s for s in lifetime.list_local_sessions() if s.pid == cluster.head_pid]
        messages: list[dict[str, Any]] = []
        arrived = threading.Condition()

        def publish(message: dict[str, Any]) -> None:
            with arrived:
                messages.append(message)
                arrived.notify_all()

        feed = ClusterFeed(session, publish)
        feed.start()
        feed.watch(True)

        script = tmp_path / "driver.py"
        script.write_text(textwrap.dedent(DRIVER))
        marker = tmp_path / "seen"
        driver = subprocess.Popen(
            [sys.executable, str(script), str(marker)],
            env=child_env(),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert driver.stdout is not None
        assert driver.stdout.readline().split() == ["sum", "2000000"]

        def copied() -> tuple[dict, dict] | None:
            tasks: dict[str, dict] = {}
            found = None
            for m in messages:
                for t in m.get("tasks") or m.get("upsert") or []:
                    tasks[t["id"]] = t
                for row in (m.get("objects") or {}).get("rows") or []:
                    if row["size"] >= 2_000_000 and row["copies"]:
                        found = row
            if found is None:
                return None
            users = [t for t in tasks.values() if t["name"] == "use"]
            return (found, users[0]) if users and users[0]["node"] else None

        deadline = time.monotonic() + 30
        with arrived:
            while (seen := copied()) is None:
                left = deadline - time.monotonic()
                assert left > 0, f"no copy in the feed within 30 s: {messages[-3:]}"
                arrived.wait(left)
        row, user = seen
        placement = next(m["placement"] for m in reversed(messages) if m.get("placement"))
        nodes = placement["nodes"]
        assert nodes[row["node"]] == "127.0.0.1 (head)"
        assert [nodes[c] for c in row["copies"]] == ["127.0.0.2"]
        # The consumer ran where the copy went, and took the producer's result as argument.
        assert user["node"] == row["copies"][0]
        assert row["task_id"] in user["deps"]
        # %ray_timeline in a kernel reads the same copies from its own object-table reads.
        seen: dict[str, dict[str, Any]] = {}
        timeline.absorb_copies(seen, feed.request("list_objects", {"limit": 100}))
        assert list(seen.values()) == [
            {
                "oid": row["id"],
                "task_id": row["task_id"],
                "size": row["size"],
                "from": row["node"],
                "to": row["copies"][0],
            }
        ]
        marker.write_text("")
        assert driver.wait(timeout=60) == 0, driver.stderr.read() if driver.stderr else ""
    finally:
        if driver is not None and driver.poll() is None:
            driver.kill()
            driver.wait(timeout=10)
        if feed is not None:
            feed.stop()
        stop_all()
