"""`%serve_status` in a real kernel: its text form before and after an application runs, and the
live view following requests per second and queue lengths."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "jupyter"))

from kernel import Kernel

APP = """
import asyncio, socket
from rayground import serve

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

serve.start(http_options={"port": free_port()})

@serve.deployment(num_replicas=2)
class Echo:
    async def __call__(self, x):
        await asyncio.sleep(0.01)
        return x

handle = serve.run(Echo.bind(), name="echo", route_prefix="/echo")
"""


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    kernel = Kernel(cwd=str(tmp_path_factory.mktemp("nb")))
    try:
        kernel.run("%load_ext rayground")
        kernel.run("%ray_init --num-cpus 4")
        yield kernel
    finally:
        kernel.run("from rayground import serve\nserve.shutdown()", allow_error=True)
        kernel.shutdown()


def test_serve_status_without_and_with_an_application(k: Kernel) -> None:
    assert k.run("%serve_status --static").text == ("Serve: not running (serve.run(app) starts it)")
    k.run(APP, timeout=120)
    res = k.run("%serve_status --static")
    assert res.text.splitlines()[:3] == [
        "Serve: 1 application(s), 1 deployment(s), 2 replica(s)",
        "  echo: RUNNING (route /echo)",
        "    Echo: HEALTHY, replicas RUNNING 2, 0.0 req/s, ongoing 0, queued 0",
    ]
    assert "application/vnd.jupyter.widget-view+json" in res.displays[0]


def test_live_view_follows_requests(k: Kernel) -> None:
    k.run(APP, timeout=120)
    k.run("%serve_status")
    # Keep a load going in the kernel until the live view (refreshed on its own thread) has
    # seen requests per second above zero; bounded by a deadline.
    res = k.run(
        "import time\n"
        "from rayground.jupyter import views\n"
        "view = views.last('serve')\n"
        "first = view.renders\n"
        "deadline = time.monotonic() + 60\n"
        "seen = ''\n"
        "while time.monotonic() < deadline:\n"
        "    [await r for r in [handle.remote(i) for i in range(20)]]\n"
        "    seen = view.text()\n"
        "    if view.renders > first + 1 and ', 0.0 req/s' not in seen and 'req/s' in seen:\n"
        "        break\n"
        "print(view.live, view.renders > first + 1)\n"
        "print(seen)",
        timeout=90,
    )
    lines = res.stdout.splitlines()
    assert lines[0] == "True True"
    assert "Echo: HEALTHY, replicas RUNNING 2" in res.stdout
    assert ", 0.0 req/s" not in res.stdout
