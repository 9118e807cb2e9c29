"""How work reaches workers and results come back, under a burst and when the driver is idle.

Tiny tasks are queued several deep on busy workers and their results reported in batches; these
tests hold the promises that must survive that: every result arrives, a slow task queued behind
tiny ones is neither hidden nor shortened in the record, a worker's output and a fire-and-forget
task's effects reach the driver while it calls nothing, and the head's collector settings stay
out of the workers that run the user's code.
"""

from __future__ import annotations

import gc
import os
import time

import pytest

import rayground as ray
from _procs import wait_until
from rayground.util.state import list_tasks


@pytest.fixture
def two_cpus():
    ray.init(num_cpus=2)
    yield
    ray.shutdown()


@ray.remote
def ident(i):
    return i


@ray.remote
def nap(seconds):
    time.sleep(seconds)
    return os.getpid()


def test_a_burst_of_tiny_tasks_returns_every_result_in_order(two_cpus) -> None:
    ray.get([ident.remote(i) for i in range(500)])  # their runs are now known to be tiny
    for _ in range(3):
        refs = [ident.remote(i) for i in range(5000)]
        assert ray.get(refs, timeout=60) == list(range(5000))


def test_tiny_results_do_not_wait_for_a_slow_task_queued_behind_them(two_cpus) -> None:
    ray.get([ident.remote(i) for i in range(500)])
    tiny = [ident.remote(i) for i in range(2000)]
    slow = [nap.remote(3.0) for _ in range(2)]
    assert ray.get(tiny, timeout=2.5) == list(range(2000))  # long before the naps end
    ready, _ = ray.wait(slow, num_returns=2, timeout=0)
    assert ready == []
    ray.get(slow, timeout=30)


def test_the_record_of_a_slow_task_behind_tiny_ones_keeps_its_length(two_cpus) -> None:
    ray.get([ident.remote(i) for i in range(500)])
    refs = [ident.remote(i) for i in range(1000)] + [nap.remote(0.1) for _ in range(4)]
    ray.get(refs, timeout=60)
    naps = list_tasks(filters=[("name", "=", "nap")], limit=10_000)
    assert len(naps) == 4
    for task in naps:
        assert task["state"] == "FINISHED"
        ran_ms = task["end_time_ms"] - task["start_time_ms"]
        assert ran_ms >= 90, task  # each slept 100 ms


def test_worker_output_reaches_an_idle_driver(capfd) -> None:
    ray.init(num_cpus=1)
    try:

        @ray.remote
        def shout():
            print("heard while the driver slept", flush=True)

        shout.remote()  # fire and forget: the driver never calls get
        seen = ""

        def heard() -> bool:
            nonlocal seen
            seen += capfd.readouterr().out
            return "heard while the driver slept" in seen

        wait_until(heard, timeout=10, message="the worker's print never reached the driver")
    finally:
        ray.shutdown()


def test_workers_run_user_code_under_the_default_collector(two_cpus) -> None:
    @ray.remote
    def thresholds():
        return gc.get_threshold(), gc.isenabled()

    assert ray.get(thresholds.remote()) == (gc.get_threshold(), True)
