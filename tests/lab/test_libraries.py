"""The libraries in the live views: Data, Tune and Serve publish to the cluster's status board;
the panel's feed (an observer, as in the Jupyter server) reads it without calling actors and
sends `libraries` messages; `%ray_status`'s section reads the same board. The board's own calls
never show as tasks, and Serve's shutdown leaves no board actor behind."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import rayground as ray
from rayground import serve, tune
from rayground._core import lifetime
from rayground.jupyter import libraries
from rayground.lab.feed import ClusterFeed
from rayground.lab.feed_schema import problems
from rayground.util import library_status
from rayground.util.state import list_actors


class Messages:
    """What a feed published, with a way to wait for one (no sleeps)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.cond = threading.Condition()

    def publish(self, message: dict[str, Any]) -> None:
        with self.cond:
            self.items.append(message)
            self.cond.notify_all()

    def wait(self, predicate, timeout: float, what: str) -> dict[str, Any]:
        seen = 0
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.items[seen:]:
                    if predicate(m):
                        return m
                seen = len(self.items)
                left = deadline - time.monotonic()
                if left <= 0:
                    last = [m for m in self.items if m["type"] in ("libraries", "snapshot")][-1:]
                    raise AssertionError(f"no {what} within {timeout} s (last board: {last})")
                self.cond.wait(left)

    def boards(self) -> list[dict[str, Any]]:
        with self.cond:
            return [m["libraries"] for m in self.items if "libraries" in m]

    def tasks(self) -> list[dict[str, Any]]:
        with self.cond:
            out = []
            for m in self.items:
                out.extend(m.get("tasks") or m.get("upsert") or [])
            return out


@pytest.fixture
def cluster() -> Iterator[None]:
    """A cluster per test: the board of one test's libraries must not outlive into the next."""
    ray.init(num_cpus=2)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def feed(cluster: None) -> Iterator[Messages]:
    """The panel's feed of this cluster, watched, as the Jupyter server runs it."""
    mine = [s for s in lifetime.list_local_sessions() if s.owner_pid == os.getpid()]
    assert len(mine) == 1
    messages = Messages()
    f = ClusterFeed(mine[0], messages.publish)
    f.start()
    f.watch(True)
    try:
        messages.wait(lambda m: m["type"] == "snapshot", 15, "snapshot")
        yield messages
        # What the panel was sent matched the schema its TypeScript types are generated from.
        bad = [p for m in list(messages.items) for p in problems(m)]
        assert not bad, bad[:10]
    finally:
        f.stop()


def _finished(library: str, title: str | None = None):
    def match(m: dict[str, Any]) -> bool:
        entries = (m.get("libraries") or {}).get(library) or {}
        return any(
            e["state"] == "FINISHED" and (title is None or e["title"] == title)
            for e in entries.values()
        )

    return match


def test_data_and_tune_show_in_the_feed_and_in_ray_status(feed: Messages) -> None:
    ds = ray.data.range(1000, override_num_blocks=4).filter(lambda r: r["id"] % 2 == 0)
    assert ds.count() == 500

    def trainable(config):
        for i in range(3):
            tune.report({"loss": config["x"] / (i + 1)})

    tune.Tuner(
        trainable,
        param_space={"x": tune.grid_search([3.0, 6.0])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(name="lib_view_exp", verbose=0),
    ).fit()

    m = feed.wait(_finished("tune", "lib_view_exp"), 30, "the finished experiment in the feed")
    m = feed.wait(
        lambda m: _finished("tune", "lib_view_exp")(m) and _finished("data")(m),
        30,
        "both libraries in one board",
    )
    (exp,) = m["libraries"]["tune"].values()
    assert exp["counts"] == {"TERMINATED": 2}
    assert exp["metric"] == "loss" and exp["mode"] == "min"
    assert exp["best"]["value"] == pytest.approx(1.0)  # x=3 after 3 reports: 3/3
    assert exp["best"]["config"] == "x=3"
    assert [t["iter"] for t in exp["trials"]] == [3, 3]
    (pipeline,) = m["libraries"]["data"].values()
    (op,) = pipeline["operators"]
    assert "Filter" in op["name"] and op["rows"] == 500 and op["blocks"] == 4

    # The board's calls are plumbing: no view draws them as tasks.
    assert not [t for t in feed.tasks() if t["name"].startswith("LibraryStatusBoard.")]

    # %ray_status's section reads the same board.
    board = library_status.read()
    text = libraries.text(board)
    assert "Tune experiment lib_view_exp: FINISHED (TERMINATED 2)" in text
    assert f"Data pipeline {pipeline['title']}: FINISHED" in text
    page = libraries.html(board)
    assert "best loss 1 (" in page and "500" in page


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_shows_its_replicas_and_leaves_no_board_after_shutdown(feed: Messages) -> None:
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})

    @serve.deployment(num_replicas=2)
    class Echo:
        async def __call__(self, request):
            return {"ok": True}

    try:
        serve.run(Echo.bind(), name="echo", route_prefix="/echo")
        assert httpx.get(f"http://127.0.0.1:{port}/echo", timeout=30).json() == {"ok": True}

        def healthy(m: dict[str, Any]) -> bool:
            entry = ((m.get("libraries") or {}).get("serve") or {}).get("serve")
            if not entry:
                return False
            deps = [d for a in entry["applications"] for d in a["deployments"]]
            return any(d["status"] == "HEALTHY" and d["replicas"] == {"RUNNING": 2} for d in deps)

        m = feed.wait(healthy, 30, "two running replicas of a healthy deployment")
        (app,) = m["libraries"]["serve"]["serve"]["applications"]
        assert (app["name"], app["route"], app["status"]) == ("echo", "/echo", "RUNNING")
        assert "Serve: 1 application(s)" in libraries.text(library_status.read())
    finally:
        serve.shutdown()
    # The entry is gone and, with nothing left on it, so is the board.
    feed.wait(
        lambda m: m["type"] == "libraries" and not m["libraries"].get("serve"),
        30,
        "Serve gone from the board",
    )
    alive = list_actors(filters=[("state", "=", "ALIVE")])
    assert [a.class_name for a in alive if a.class_name == "LibraryStatusBoard"] == []
    assert library_status.read() == {}
