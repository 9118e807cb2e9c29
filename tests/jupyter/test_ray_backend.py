"""--backend ray: the same magics and views on real Ray (skipped where Ray is not installed;
install the `ray` extra to run it)."""

from __future__ import annotations

import re

import pytest
from kernel import Kernel

from _needs import missing, need_module

ray = need_module("ray", "needs real Ray: pip install 'rayground[ray]'")
if not hasattr(ray, "init"):
    missing("`import ray` found a folder, not Ray")

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Kernel:
    kern = Kernel(
        cwd=str(tmp_path_factory.mktemp("raynb")), extra_env={"RAY_AUTH_MODE": "disabled"}
    )
    try:
        kern.run("%load_ext rayground")
        res = kern.run("%ray_init --backend ray --num-cpus 2 --object-store-memory 100MiB", 180)
        assert res.text.splitlines()[:2] == [
            "ray cluster (started by this kernel)",
            "  nodes: 1   CPUs: 2   GPUs: 0",
        ]
        kern.run(
            "import ray, time\n"
            "@ray.remote\ndef work(x):\n    time.sleep(0.1)\n    return x * x\n"
            "@ray.remote\nclass Counter:\n    def __init__(self):\n        self.n = 0\n"
            "    def incr(self):\n        self.n += 1\n        return self.n\n"
            "c = Counter.remote()\nprint(ray.get([c.incr.remote() for _ in range(2)]))\n"
            "print(ray.get([work.remote(i) for i in range(4)]))"
        )
        yield kern
    finally:
        kern.run("%ray_shutdown", 120)
        kern.shutdown()


def test_views_read_ray_state(k: Kernel, wait_until) -> None:
    # Ray reports task events about once a second: read until its state API has every task's
    # end (the timeline counts only tasks with both times), then check each view.
    wait_until(
        lambda: re.match(r"timeline: 6 task\(s\) over", k.run("%ray_timeline --static").text),
        timeout=30,
        interval=0.5,
        message="Ray's state API never showed the six tasks' end times",
    )
    assert "work x4" in k.run("%ray_dag --static").text
    assert re.search(
        r"Counter: ALIVE, pid=\d+, 2 call\(s\) done, 0 queued", k.run("%ray_actors --static").text
    )
    assert re.match(r"timeline: 6 task\(s\) over", k.run("%ray_timeline --static").text)
    assert k.run("%ray_objects --static").text.startswith("object store: ")


def test_explain_on_ray_says_what_it_cannot_know(k: Kernel) -> None:
    res = k.run("%%ray_explain\nout = [ray.get(work.remote(i)) for i in range(4)]", 120)
    report = res.texts()[-1]
    assert "  4 task(s): work x4" in report
    assert "tasks ran one at a time, each submitted after the previous finished" in report
    assert "(not known on this backend: driver get/wait time" in report
