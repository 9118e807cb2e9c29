"""A run report asks the backend for the cluster's CPUs without holding the run's lock.

The request pumps the driver's one connection; the thread that pumps delivers the event stream
to `Run._on_events`, which takes that lock. Holding it across the request deadlocked a lesson's
check (lesson 12: the serve status thread pumped while the check's report waited on it)."""

from __future__ import annotations

from types import SimpleNamespace

from rayground.jupyter import analysis


class _Backend:
    name = "ray"  # read through the state API (no event stream): the test needs no cluster

    def __init__(self, run: analysis.Run) -> None:
        self.run = run
        self.asked_with_lock_held: list[bool] = []

    def tasks(self) -> list[dict]:
        return []

    def status(self) -> SimpleNamespace:
        self.asked_with_lock_held.append(self.run._lock.locked())
        return SimpleNamespace(cpus=4)


def test_report_asks_for_cpus_without_the_runs_lock(monkeypatch) -> None:
    monkeypatch.setenv("RAY_task_events_report_interval_ms", "10")  # the settle reads: 20 ms
    run = analysis.Run()
    backend = _Backend(run)
    run._backend = backend
    with run:
        pass
    report = run.report()
    assert backend.asked_with_lock_held == [False]
    assert report.cpus == 4
