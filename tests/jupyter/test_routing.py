"""Worker output lands under the cell that launched the task; Ctrl-C cancels that cell's tasks
and returns at once; a kernel's end leaves no cluster process or shared memory behind."""

from __future__ import annotations

import os
import signal
import time

import pytest
from kernel import Kernel

try:
    from .. import _procs
except ImportError:
    import _procs


SETUP = """
@ray.remote
def say(text, delay=0.0):
    time.sleep(delay)
    print(text)
    return text
@ray.remote
def parent_task():
    print("parent speaking")
    return ray.get(say.remote("child speaking"))
@ray.remote
def slow(i):
    time.sleep(30)
    return i
"""


@pytest.fixture(scope="module")
def k(kernel: Kernel) -> Kernel:
    kernel.run(SETUP)
    return kernel


def test_output_goes_to_the_launching_cell(k: Kernel) -> None:
    now = k.run('print(ray.get(say.remote("hello now")))')
    assert now.stdout.splitlines()[0].endswith(" hello now") and now.stdout.startswith("(say pid=")

    k.comm_updates.clear()
    first = k.run('late = say.remote("hello later", 1.0)')
    # A later cell runs while the task is still sleeping: the line must not land there.
    second = k.run("time.sleep(2.0)\nprint('second cell')")
    assert second.stdout == "second cell\n"
    assert "hello later" not in first.stdout + second.stdout
    # It went to the first cell's (text-less) output widget instead.
    assert first.displays and first.displays[-1]["text/plain"] == ""
    outputs = [st.get("outputs") for _, st in k.comm_updates if st.get("outputs")]
    assert any(
        o["text"].startswith("(say pid=") and o["text"].endswith(" hello later\n")
        for batch in outputs
        for o in batch
    ), outputs


def test_nested_task_output_follows_its_root_cell(k: Kernel) -> None:
    res = k.run("print(ray.get(parent_task.remote()))")
    lines = res.stdout.splitlines()
    assert any(
        ln.startswith("(parent_task pid=") and ln.endswith(" parent speaking") for ln in lines
    )
    assert any(ln.startswith("(say pid=") and ln.endswith(" child speaking") for ln in lines)
    assert "child speaking" in lines  # the returned value, printed by the cell


def test_actor_output_goes_to_the_cell_that_made_or_called_it(k: Kernel) -> None:
    k.run(
        "@ray.remote\nclass Greeter:\n    def __init__(self):\n        print('greeter up')\n"
        "    def hi(self):\n        print('hi there')\n        return 1"
    )
    made = k.run("g = Greeter.remote()\nray.get(g.hi.remote())")
    called = k.run("ray.get(g.hi.remote())")
    assert "greeter up" in made.stdout and "(Greeter pid=" in made.stdout
    assert called.stdout.startswith("(Greeter pid=") and called.stdout.endswith(" hi there\n")
    assert "greeter up" not in called.stdout


def _worker_pids(k: Kernel) -> list[int]:
    return k.value("[w['pid'] for w in ray.util.state.list_workers()]")


@pytest.mark.timing  # returning fast is the feature: 1 s allowed
def test_interrupt_returns_fast_and_cancels_the_cells_tasks(k: Kernel, wait_until) -> None:
    workers_before = set(_worker_pids(k))
    msg_id = k.submit("ray.get([slow.remote(i) for i in range(6)])")
    k.pump(1.0)  # two tasks are running, four wait
    t0 = time.monotonic()
    k.km.interrupt_kernel()  # what the stop button does: SIGINT to the kernel's process group
    res = k.wait(msg_id, timeout=10)
    took = time.monotonic() - t0
    print(f"interrupt returned in {took:.3f} s")
    assert res.error is not None and res.error["ename"] == "KeyboardInterrupt"
    assert took < 1.0, f"interrupt took {took:.2f} s"
    shown = "\n".join(res.error["traceback"])
    assert "slow.remote(i)" in shown  # the learner's line, not the runtime's internals
    assert "client.py" not in shown
    assert (
        "Interrupted: cancelled 6 unfinished task(s) this cell submitted (slow x6).\n" in res.stdout
    )

    def slow_states() -> list:
        return k.value("[t.state for t in ray.util.state.list_tasks() if t.name == 'slow']")

    wait_until(
        lambda: slow_states() == ["FAILED"] * 6,
        timeout=10,
        interval=0.2,
        message=lambda: f"the cell's six tasks did not all end FAILED: {slow_states()}",
    )
    # Workers did not die of the signal, and the kernel keeps working with the cluster.
    alive = {p for p in workers_before if _procs.process_alive(p)}
    assert alive == workers_before
    assert k.run("print(ray.get(say.remote('after', 0.0)))").stdout.endswith("after\n")


@pytest.mark.parametrize("how", ["shutdown", "restart"])
def test_kernel_end_leaves_nothing_behind(tmp_path, how: str) -> None:
    k = Kernel(cwd=str(tmp_path))
    try:
        k.run("%load_ext rayground")
        k.run("%ray_init --num-cpus 2 --object-store-memory 64MiB")
        k.run("import numpy as np, rayground as ray\nkeep = ray.put(np.ones(1_000_000))")
        k.run(
            "@ray.remote\ndef f(x):\n    return x\nprint(ray.get([f.remote(i) for i in range(4)]))"
        )
        head_pid = k.value("__import__('rayground')._core.context.current_client().head_pid")
        worker_pids = k.value("[w['pid'] for w in ray.util.state.list_workers()]")
        shm = k.value("ray.nodes()[0]['ObjectStoreSocketName']")
        assert os.path.isdir(shm) and os.listdir(shm)
        procs = [head_pid, *worker_pids]
        assert all(_procs.process_alive(p) for p in procs)
        if how == "restart":
            k.km.restart_kernel(now=True)  # kills the kernel's process group, as JupyterLab may
            k.kc.wait_for_ready(timeout=60)
        else:
            k.shutdown()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not any(_procs.process_alive(p) for p in procs) and not os.path.exists(shm):
                break
            time.sleep(0.1)
        assert [p for p in procs if _procs.process_alive(p)] == []
        assert not os.path.exists(shm)
    finally:
        if how == "restart":
            k.shutdown()
        for p in locals().get("procs", []):
            if _procs.process_alive(p):
                os.kill(p, signal.SIGKILL)
