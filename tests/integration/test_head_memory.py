"""The head's memory after big sessions (issue 19): finished-task records are bounded in count
(RAYGROUND_TASK_HISTORY, or Ray's RAY_task_events_max_num_task_in_gcs), released objects leave
no state, and workers forked from a grown head do not copy its heap. Counts and memory, no
timings; one cluster for the module."""

from __future__ import annotations

import os

import pytest

import rayground as ray
from rayground.util import state

HISTORY = 20_000
BATCH = 5_000


@pytest.fixture(scope="module")
def cluster():
    """The cluster, and a fresh worker's private memory and the head's, before any work."""
    old = os.environ.get("RAYGROUND_TASK_HISTORY")
    os.environ["RAYGROUND_TASK_HISTORY"] = str(HISTORY)  # read by the head it starts
    try:
        ray.init(num_cpus=2)
    finally:
        if old is None:
            os.environ.pop("RAYGROUND_TASK_HISTORY")
        else:
            os.environ["RAYGROUND_TASK_HISTORY"] = old
    try:
        first = PrivateMemory.remote()
        yield ray.get(first.measure.remote(), timeout=60), _kb(_head_pid(), "VmRSS")
        ray.kill(first)
    finally:
        ray.shutdown()


@ray.remote(num_cpus=0)
class PrivateMemory:
    def measure(self):
        import gc

        gc.collect()  # what a worker's own allocations trigger sooner or later
        return _kb(os.getpid(), "Private_Dirty", "smaps_rollup")


@ray.remote
def head_memory_noop(payload):
    return None


def _kb(pid: int, field: str, name: str = "status") -> int:
    with open(f"/proc/{pid}/{name}") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/{name}")


def _head_pid() -> int:
    from rayground._core import context

    return context.current_client().head_pid


def _run_batches(n: int) -> None:
    for _ in range(n):
        assert (
            ray.get([head_memory_noop.remote(b"x" * 100) for _ in range(BATCH)]) == [None] * BATCH
        )


def test_finished_task_records_are_bounded_and_released_objects_leave_none(cluster, wait_until):
    objects_before = len(state.list_objects())
    _run_batches(5)
    rows = state.list_tasks(limit=1_000_000)
    assert len(rows) == HISTORY  # 25,000 ran; the newest HISTORY are kept, as Ray keeps its
    assert {r.name for r in rows} == {"head_memory_noop"}
    assert all(r.state == "FINISHED" for r in rows)
    wait_until(
        lambda: len(state.list_objects()) == objects_before,
        timeout=20,
        message="every result freed",
    )


def test_workers_forked_from_a_grown_head_do_not_copy_its_heap(cluster):
    small, head_idle = cluster
    _run_batches(1)  # (on its own too: the head now keeps HISTORY finished records)
    grown = _kb(_head_pid(), "VmRSS") - head_idle
    assert grown > 20_000, f"the head grew only {grown} kB: the test would prove nothing"
    # More actors than the idle workers forked at start: some are forked from the grown head.
    actors = [PrivateMemory.remote() for _ in range(4)]
    big = max(ray.get([a.measure.remote() for a in actors], timeout=60))
    # Before the fix, the collector in a new worker touched every object it inherited and so
    # copied the head's tables into it (about as much as the head had grown).
    assert big - small < grown / 4, (small, big, grown)
    for actor in actors:
        ray.kill(actor)
