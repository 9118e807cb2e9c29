"""The rayground server extension in a real Jupyter server on loopback (token auth on).

What the panel relies on: authenticated routes only; a cluster list with nodes and resources;
the cluster of a notebook found from its kernel (as owner or as a joined driver); a live feed of
that cluster's tasks, objects and actors that follows it across a kernel restart; start and stop
of a local cluster with clear refusals; the course's lessons and progress.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from _labhelpers import FeedClient, Kernel, Server, wait_for

from rayground._core import lifetime
from rayground._core.lifetime import pid_alive

pytestmark = pytest.mark.timeout(240)


def fold_tasks(feed: FeedClient, cluster: str) -> dict[str, dict[str, Any]]:
    """The task table a browser holds for `cluster` after the messages received so far."""
    tasks: dict[str, dict[str, Any]] = {}
    for m in list(feed.messages):
        if m.get("cluster") != cluster:
            continue
        if m["type"] == "snapshot":
            tasks = {t["id"]: t for t in m["tasks"]}
        elif m["type"] == "tasks":
            for t in m["upsert"]:
                tasks[t["id"]] = t
            for tid in m["removed"]:
                tasks.pop(tid, None)
    return tasks


def latest_tables(feed: FeedClient, cluster: str) -> dict[str, Any] | None:
    for m in reversed(list(feed.messages)):
        if m.get("cluster") == cluster and m["type"] in ("snapshot", "tables"):
            return m
    return None


def clusters_now(server: Server) -> list[dict[str, Any]]:
    status, body = server.request("GET", "/rayground/clusters")
    assert status == 200, body
    return body["clusters"]


def test_routes_refuse_unauthenticated_requests(jupyter_server: Server) -> None:
    for method, path, body in [
        ("GET", "/rayground/clusters", None),
        ("POST", "/rayground/clusters", {"num_cpus": 1}),
        ("DELETE", "/rayground/clusters/session_x", None),
        ("GET", "/rayground/curriculum", None),
    ]:
        for token in (None, "not-the-token"):
            status, _ = jupyter_server.request(method, path, body, token=token)
            assert status == 403, (method, path, token, status)
    # Nothing was started by the refused POSTs.
    assert clusters_now(jupyter_server) == []
    from tornado.websocket import WebSocketError

    with pytest.raises((WebSocketError, OSError, Exception)) as info:
        FeedClient(jupyter_server, token=None)
    assert "403" in str(info.value)


def test_start_rejects_bad_input_with_a_reason(jupyter_server: Server) -> None:
    for body, needle in [
        ({"num_cpus": -1}, "num_cpus must be a whole number"),
        ({"num_cpus": "two"}, "num_cpus must be a whole number"),
        ({"num_cpus": 1.5}, "num_cpus must be a whole number"),
        ({"object_store_memory": 10}, "at least 1 MiB"),
        ({"cpus": 2}, "JSON object such as"),
        (b"not json", "JSON object such as"),
    ]:
        status, reply = jupyter_server.request("POST", "/rayground/clusters", body)
        assert status == 400, (body, status, reply)
        assert needle in reply["message"], reply
    status, reply = jupyter_server.request("DELETE", "/rayground/clusters/session_nope")
    assert status == 404 and "no cluster" in reply["message"]
    assert clusters_now(jupyter_server) == []


def test_start_join_watch_and_stop_a_local_cluster(jupyter_server: Server) -> None:
    status, info = jupyter_server.request("POST", "/rayground/clusters", {"num_cpus": 2})
    assert status == 201, info
    cid = info["id"]
    assert info["kind"] == "server" and info["stoppable"]

    listed = wait_for(
        lambda: [c for c in clusters_now(jupyter_server) if c["id"] == cid and c["nodes"]],
        15,
        "the new cluster listed with its node",
    )[0]
    assert listed["nodes"][0]["resources_total"]["CPU"] == 2.0
    assert listed["store_capacity"] > 0
    status, one = jupyter_server.request("GET", f"/rayground/clusters/{cid}")
    assert status == 200 and one["id"] == cid and one["pid"] == info["pid"]

    feed = FeedClient(jupyter_server)
    kernel = Kernel(jupyter_server)
    try:
        feed.send({"type": "watch", "kernel_id": None, "cluster": cid})
        feed.wait(lambda m: m["type"] == "watching" and m["cluster"] == cid, 10, "watching")
        feed.wait(lambda m: m["type"] == "snapshot" and m["cluster"] == cid, 15, "snapshot")

        # A notebook that joins the cluster is mapped to it through its driver pid.
        kernel.run(
            "import rayground as ray\n"
            "ray.init(address='auto')\n"
            "@ray.remote\n"
            "def ping(x):\n    return x\n"
            "print(ray.get(ping.remote(7)))"
        )
        wait_for(
            lambda: (
                kernel.id
                in next(c for c in clusters_now(jupyter_server) if c["id"] == cid)["kernel_ids"]
            ),
            15,
            "the joined kernel mapped to the panel's cluster",
        )
        wait_for(
            lambda: any(t["name"] == "ping" for t in fold_tasks(feed, cid).values()),
            15,
            "the joined kernel's task in the feed",
        )
        kernel.run("ray.shutdown()")

        status, _ = jupyter_server.request("DELETE", f"/rayground/clusters/{cid}")
        assert status == 204
        assert not pid_alive(info["pid"])
        assert all(c["id"] != cid for c in clusters_now(jupyter_server))
        gone = feed.wait(
            lambda m: m["type"] == "watching" and m["cluster"] is None, 10, "watching ended"
        )
        assert "ended" in gone["reason"]
    finally:
        kernel.shutdown()
        feed.close()


def test_feed_follows_a_notebooks_cluster_live_and_across_a_restart(
    jupyter_server: Server,
) -> None:
    kernel = Kernel(jupyter_server)
    feed = FeedClient(jupyter_server)
    try:
        feed.wait(lambda m: m["type"] == "clusters", 10, "clusters")
        feed.send({"type": "watch", "kernel_id": kernel.id, "cluster": None})
        waiting = feed.wait(lambda m: m["type"] == "watching", 10, "watching")
        assert waiting["cluster"] is None and "no cluster yet" in waiting["reason"]

        out = kernel.run(
            "import time\n"
            "import numpy as np\n"
            "import rayground as ray\n"
            "ray.init(num_cpus=2)\n"
            "@ray.remote\n"
            "def load(i):\n    return i\n"
            "@ray.remote\n"
            "def combine(a, b):\n    return a + b\n"
            "parts = [load.remote(i) for i in range(4)]\n"
            "total = combine.remote(combine.remote(parts[0], parts[1]),"
            " combine.remote(parts[2], parts[3]))\n"
            "print(ray.get(total))"
        )
        assert out.strip() == "6"
        watching = feed.wait(
            lambda m: m["type"] == "watching" and m["cluster"], 15, "the kernel's cluster"
        )
        cid = watching["cluster"]
        assert watching["reason"] == "kernel"
        info = next(c for c in clusters_now(jupyter_server) if c["id"] == cid)
        assert info["kernel_ids"] == [kernel.id] and info["kind"] == "driver"
        assert not info["stoppable"]

        def graph_done():
            tasks = fold_tasks(feed, cid)
            names = sorted(t["name"] for t in tasks.values())
            done = all(t["state"] == "FINISHED" for t in tasks.values())
            return tasks if names == ["combine"] * 3 + ["load"] * 4 and done else None

        tasks = wait_for(graph_done, 15, "the 7-task graph, finished, in the feed")
        final = next(
            t
            for t in tasks.values()
            if t["name"] == "combine"
            and len(t["deps"]) == 2
            and all(tasks[d]["name"] == "combine" for d in t["deps"])
        )
        assert final["end_ms"] and final["start_ms"]

        # Live: a running task shows as RUNNING, then FINISHED, without asking again.
        kernel.run(
            "@ray.remote\ndef slow():\n    time.sleep(1.5)\n    return 1\nslow_ref = slow.remote()"
        )

        def state_of_slow():
            return {t["state"] for t in fold_tasks(feed, cid).values() if t["name"] == "slow"}

        wait_for(lambda: "RUNNING" in state_of_slow(), 10, "slow RUNNING")
        wait_for(lambda: state_of_slow() == {"FINISHED"}, 10, "slow FINISHED")

        # Objects and actors.
        kernel.run(
            "big = ray.put(np.zeros(1_000_000))\n"
            "@ray.remote\nclass Counter:\n"
            "    def __init__(self):\n        self.n = 0\n"
            "    def incr(self):\n        self.n += 1\n        return self.n\n"
            "c = Counter.remote()\nprint(ray.get([c.incr.remote() for _ in range(3)]))"
        )

        def tables_ready():
            m = latest_tables(feed, cid)
            if not m:
                return None
            big = [o for o in m["objects"]["rows"] if o["size"] >= 8_000_000]
            actors = [a for a in m["actors"] if a["class_name"] == "Counter"]
            ok = big and actors and actors[0]["state"] == "ALIVE" and actors[0]["calls_done"] >= 3
            return m if ok else None

        tables = wait_for(tables_ready, 15, "the 8 MB object and the Counter actor")
        assert tables["objects"]["used"] >= 8_000_000
        assert tables["objects"]["capacity"] > tables["objects"]["used"]
        # The object store view names what keeps an object alive; the task stream places each
        # worker on its node.
        big = next(o for o in tables["objects"]["rows"] if o["size"] >= 8_000_000)
        assert big["held_by"] == ["a driver (notebook or script)"], big
        placement = tables["placement"]
        assert [label.endswith("(head)") for label in placement["nodes"].values()] == [True]
        ran = [t for t in fold_tasks(feed, cid).values() if t["name"] == "load"]
        assert {placement["workers"][str(t["pid"])] for t in ran} <= set(placement["nodes"])

        # A task blocked in get inside it: the span, opened and closed, reaches the browser.
        kernel.run(
            "@ray.remote\ndef outer():\n    return ray.get(slow.remote()) + 1\n"
            "print(ray.get(outer.remote()))"
        )

        def blocked_span():
            spans = [
                t.get("blocked") for t in fold_tasks(feed, cid).values() if t["name"] == "outer"
            ]
            return spans[0] if spans and spans[0] and spans[0][-1][1] is not None else None

        span = wait_for(blocked_span, 15, "outer's time blocked in get, in the feed")
        assert len(span) == 1 and span[0][1] - span[0][0] >= 1000, span

        # A kernel's cluster is not the panel's to stop.
        status, reply = jupyter_server.request("DELETE", f"/rayground/clusters/{cid}")
        assert status == 409 and "ray.shutdown()" in reply["message"]

        # Restart the kernel: its cluster ends; the next init gives a new one, which the feed
        # switches to by itself.
        n = len(feed.messages)
        kernel.restart()
        wait_for(
            lambda: all(c["id"] != cid for c in clusters_now(jupyter_server)),
            20,
            "the old cluster gone after the kernel restart",
        )
        kernel.run(
            "import rayground as ray\nray.init(num_cpus=1)\n"
            "@ray.remote\ndef again():\n    return 1\nprint(ray.get(again.remote()))"
        )
        switched = feed.wait(
            lambda m: (
                m["type"] == "watching"
                and m["cluster"] not in (None, cid)
                and feed.messages.index(m) >= n
            ),
            20,
            "watching the new cluster",
        )
        cid2 = switched["cluster"]
        wait_for(
            lambda: [t for t in fold_tasks(feed, cid2).values() if t["name"] == "again"],
            15,
            "the new cluster's task",
        )
        kernel.run("ray.shutdown()")
    finally:
        feed.close()
        kernel.shutdown()


def test_stop_a_standalone_cluster(jupyter_server: Server) -> None:
    head = lifetime.start_head(
        num_cpus=1,
        num_gpus=0,
        gpu_ids=[],
        resources={},
        object_store_memory=64 << 20,
        owner_pid=None,
    )
    reaper = threading.Thread(target=head.proc.wait, daemon=True)  # no zombie to look alive
    reaper.start()
    try:
        cid = Path(head.session_dir).name
        info = wait_for(
            lambda: next((c for c in clusters_now(jupyter_server) if c["id"] == cid), None),
            10,
            "the standalone cluster listed",
        )
        assert info["kind"] == "standalone" and info["stoppable"] and info["owner_pid"] is None
        status, body = jupyter_server.request("DELETE", f"/rayground/clusters/{cid}")
        assert status == 204, body
        reaper.join(10)
        assert head.proc.poll() is not None  # the head has exited (bounded by the join)
    finally:
        lifetime.stop_head(head.proc, head.shm_dir)


def _notebook(cells: list[dict[str, Any]]) -> str:
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _md(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _exercise(ex_id: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "metadata": {"tags": ["exercise"], "rayground": {"exercise_id": ex_id}},
        "source": "# your code",
        "outputs": [],
        "execution_count": None,
    }


def test_curriculum_lists_lessons_and_follows_progress(jupyter_server: Server) -> None:
    root = jupyter_server.root
    (root / "notebooks").mkdir()
    (root / "notebooks" / "00_welcome.ipynb").write_text(
        _notebook([_md("# Welcome to rayground\n\nRead me."), _md("# not the title")])
    )
    (root / "notebooks" / "01_tasks.ipynb").write_text(
        _notebook(
            [_md(["# Tasks\n", "text"]), _exercise("01_tasks:square"), _exercise("01_tasks:map")]
        )
    )
    (root / "notebooks" / "scratch.ipynb").write_text(_notebook([]))  # not a lesson
    (root / "02_objects.ipynb").write_text("{broken")
    progress = Path(jupyter_server.env["RAYGROUND_PROGRESS_FILE"])
    progress.write_text(
        json.dumps(
            {
                "version": 1,
                "exercises": {
                    "01_tasks:square": {
                        "status": "solved",
                        "attempts": 2,
                        "updated": "2026-11-23T10:00:00Z",
                    }
                },
            }
        )
    )
    status, course = jupyter_server.request("GET", "/rayground/curriculum")
    assert status == 200
    lessons = {lesson["stem"]: lesson for lesson in course["lessons"]}
    assert list(lessons) == ["00_welcome", "01_tasks", "02_objects"]
    assert lessons["00_welcome"]["title"] == "Welcome to rayground"
    assert lessons["00_welcome"]["path"] == "notebooks/00_welcome.ipynb"
    assert lessons["01_tasks"]["exercises"] == ["01_tasks:square", "01_tasks:map"]
    assert lessons["02_objects"]["error"] and "02_objects.ipynb" in lessons["02_objects"]["error"]
    assert course["progress"]["01_tasks:square"]["status"] == "solved"
    assert course["progress_error"] is None

    # The feed pushes progress as the learner makes it; a broken file is reported, not fatal.
    feed = FeedClient(jupyter_server)
    try:
        feed.wait(lambda m: m["type"] == "curriculum", 10, "curriculum")
        data = json.loads(progress.read_text())
        data["exercises"]["01_tasks:map"] = {
            "status": "attempted",
            "attempts": 1,
            "updated": "2026-11-23T11:00:00Z",
        }
        tmp = progress.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, progress)
        feed.wait(
            lambda m: m["type"] == "curriculum" and "01_tasks:map" in m["progress"],
            10,
            "curriculum with the new attempt",
        )
        progress.write_text("{not json")
        broken = feed.wait(
            lambda m: m["type"] == "curriculum" and m["progress_error"], 10, "progress error"
        )
        assert str(progress) in broken["progress_error"]
        assert len(broken["lessons"]) == 3
    finally:
        feed.close()


def test_feed_rejects_malformed_messages(jupyter_server: Server) -> None:
    feed = FeedClient(jupyter_server)
    try:
        feed.send({"type": "subscribe-everything"})
        err = feed.wait(lambda m: m["type"] == "error", 10, "error")
        assert "bad message" in err["message"]
        feed.send({"type": "watch", "kernel_id": 5, "cluster": None})
        feed.wait(
            lambda m: m["type"] == "error" and "must be strings" in m["message"], 10, "type error"
        )
    finally:
        feed.close()
