"""The "how it ran" report must not contradict the lessons: each case below was reported wrong.

The report is the run analysis (rayground.jupyter.analysis) that every exercise check prints
under "How it ran" and %%ray_explain shows. It uses the workers' own times for direct actor
calls, clips every task to the run's window, and waits for the end events of the run's tasks.
"""

from __future__ import annotations

import time

import pytest

import rayground as ray
from rayground.jupyter import analysis
from rayground.jupyter.backends import InitArgs, RaygroundBackend


@pytest.fixture(scope="module")
def backend():
    ray.init(num_cpus=4)
    yield RaygroundBackend(InitArgs())
    ray.shutdown()


@ray.remote
class Slow:
    def work(self, x):
        time.sleep(0.1)
        return x


@ray.remote
def nap(seconds):
    time.sleep(seconds)
    return seconds


def _report(backend, block):
    with analysis.watch(backend) as run:
        block()
    return run.report()


def test_a_sync_actor_runs_one_call_at_a_time(backend):
    actor = Slow.remote()
    ray.get(actor.work.remote(0))  # started, so only the calls are in the window
    report = _report(backend, lambda: ray.get([actor.work.remote(i) for i in range(5)]))
    assert report.tasks_by_function == {"Slow.work": 5}
    assert report.max_parallelism == 1, report.text()
    assert (report.finished, report.failed, report.unfinished) == (5, 0, 0), report.text()
    ray.kill(actor)


def test_calls_that_returned_are_not_failed_when_the_actor_is_killed_after(backend):
    actor = Slow.remote()
    ray.get(actor.work.remote(0))

    def use_then_kill():
        assert ray.get([actor.work.remote(i) for i in range(3)]) == [0, 1, 2]
        ray.kill(actor)  # right after: the calls' completion may not have reached the head

    report = _report(backend, use_then_kill)
    assert (report.finished, report.failed, report.unfinished) == (3, 0, 0), report.text()


def test_utilization_counts_only_the_window(backend):
    ray.get([nap.remote(0) for _ in range(4)])  # workers up, so the tasks start at once
    with analysis.watch(backend) as run:
        refs = [nap.remote(0.3) for _ in range(2)]  # only submits: the tasks run after it
    ray.get(refs)
    report = run.report()  # asked for once they finished, as a check or a later cell does
    assert report.tasks == 2
    assert 0.0 <= report.utilization <= 1.0, report.text()
    assert report.busy_s <= report.wall_s * report.max_parallelism + 1e-6, report.text()
    assert f"({report.utilization:.0%} of the CPUs' time)" in report.text()


def test_cancelled_tasks_are_not_still_running(backend):
    def submit_and_cancel():
        refs = [nap.remote(3) for _ in range(2)]
        ray.wait(refs, timeout=0.2)
        for ref in refs:
            ray.cancel(ref)

    report = _report(backend, submit_and_cancel)
    assert report.tasks == 2
    assert (report.finished, report.unfinished) == (0, 0), report.text()
    assert report.failed == 2, report.text()


@pytest.mark.parametrize(
    ("setting", "seconds"),
    [(None, 1.0), ("100", 0.1), ("250", 0.25), ("not a number", 1.0), ("0", 0.01)],
)
def test_reads_of_rays_records_follow_its_event_report_interval(monkeypatch, setting, seconds):
    """On Ray the report waits until two reads of the state API one report interval apart agree;
    the interval is Ray's own setting, so a cluster that reports more often settles sooner."""
    if setting is None:
        monkeypatch.delenv("RAY_task_events_report_interval_ms", raising=False)
    else:
        monkeypatch.setenv("RAY_task_events_report_interval_ms", setting)
    assert analysis.ray_event_interval_s() == pytest.approx(seconds)
