"""How a learner's code ran: the tasks, actors and objects it made, from the cluster's records.

`watch()` wraps a call; afterwards its `RunRecord` says how many tasks of each function ran, how
many ran at once (the peak, and the average over the wall time), the CPUs the cluster had, which
put objects the tasks received by reference, which actors were created and called, and the
measured speed-up (the tasks' run times added up, divided by the wall time: how much faster than
running the same tasks one after another, on this machine, this time).

This is the one seam between the exercise checks and the runtime: checks read a `RunRecord` and
never the state API directly. Per-task facts (which refs a task received, what it returned, its
state) come from `rayground.util.state.list_tasks`, whose timestamps are the head's clock (the
same machine's clock as the driver's on one node). Where the Jupyter run analysis is available
(`rayground.jupyter.analysis`, contract 2), the same block is also recorded by it and its
`RunReport` (driver time blocked in get/wait, puts, anti-patterns such as a get inside the submit
loop) is attached as `record.report` and printed under "How it ran". On real Ray the same spans
come from Ray's state API (`ray[default]`); without it the record says `known=False` and the
checks say which facts they could not see. What the answer's values are made of is not in the
record: the twins' marks say that, on every backend (`evidence.py`).
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..jupyter.spans import peak_parallelism

_TERMINAL = ("FINISHED", "FAILED")
_RAY_SETTLE_S = 6.0  # Ray: how long to wait for its task events to arrive


@dataclass
class TaskSpan:
    """One task or actor call the watched code caused."""

    task_id: str
    name: str
    kind: str  # NORMAL_TASK | ACTOR_TASK | ACTOR_CREATION_TASK
    state: str
    created: float
    start: float | None
    end: float | None
    deps: list[str]
    returns: list[str]
    actor_id: str | None
    worker_pid: int | None
    error: str | None = None
    attempt: int = 0  # 0 for the first try; each retry or actor-call retry adds one
    resources: dict[str, float] = field(default_factory=dict)  # what the task asked for
    node_id: str | None = None

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return max(0.0, self.end - self.start)


@dataclass
class RunRecord:
    backend: str  # "rayground" | "ray" | "none"
    known: bool  # whether task-level details are available
    started: float
    wall_s: float = 0.0
    cpus: float = 0.0
    spans: list[TaskSpan] = field(default_factory=list)
    report: Any = None  # rayground.jupyter.analysis.RunReport, where that module could run

    # -- what the checks ask
    def tasks(self, name: str | None = None, kind: str = "NORMAL_TASK") -> list[TaskSpan]:
        """Spans of one kind (plain tasks by default), optionally of one function or method."""
        return [
            s
            for s in self.spans
            if s.kind == kind and (name is None or s.name == name or s.name.endswith("." + name))
        ]

    def count(self, name: str | None = None, kind: str = "NORMAL_TASK") -> int:
        return len(self.tasks(name, kind))

    def by_name(self) -> Counter:
        return Counter(s.name for s in self.spans if s.kind != "ACTOR_CREATION_TASK")

    def actors_created(self) -> list[TaskSpan]:
        return self.tasks(kind="ACTOR_CREATION_TASK")

    def actor_calls(self, method: str | None = None) -> list[TaskSpan]:
        return self.tasks(method, kind="ACTOR_TASK")

    def max_parallel(self, spans: list[TaskSpan] | None = None) -> int:
        """The most of `spans` (default: all tasks and actor calls) running at the same moment
        (the same sweep as the run analysis's `max_parallelism`: jupyter/spans.py)."""
        return peak_parallelism((s.start, s.end) for s in self._ran(spans))

    def busy_s(self, spans: list[TaskSpan] | None = None) -> float:
        """Run time of `spans` added up: what running them one after another would cost."""
        return sum(s.duration for s in self._ran(spans))

    def speedup(self, spans: list[TaskSpan] | None = None) -> float:
        """Busy time over wall time: 1.0 means one at a time, N means N at once all along."""
        if self.wall_s <= 0:
            return 0.0
        return self.busy_s(spans) / self.wall_s

    def overlap(self, spans: list[TaskSpan] | None = None) -> float:
        """Busy time over the window from the first start to the last end of `spans`: how much
        faster they ran than one after another, leaving out the answer's own set-up time
        (starting actors, submitting) that `speedup` counts."""
        ran = self._ran(spans)
        if not ran:
            return 0.0
        window = max(s.end for s in ran) - min(s.start for s in ran)
        return self.busy_s(ran) / window if window > 0 else float(len(ran))

    def submitted_one_by_one(self, spans: list[TaskSpan]) -> bool:
        """True if each task was submitted only after the previous one had finished: the shape a
        `get` inside the submit loop leaves behind."""
        ordered = sorted(spans, key=lambda s: s.created)
        if len(ordered) < 2:
            return False
        return all(
            b.created >= (a.end or float("inf")) - 0.002 for a, b in itertools.pairwise(ordered)
        )

    def summary(self) -> list[str]:
        """A few lines for the feedback: what ran and how it overlapped."""
        if self.report is not None:
            lines = list(self.report.summary_lines())
            lines += [ln for f in self.report.findings for ln in f.text().splitlines()]
            lines += [f"(not known on {self.backend}: {note})" for note in self.report.unknown]
            return lines
        if not self.known:
            return [
                f"ran in {self.wall_s:.2f} s on {self.backend}; task-level details come from "
                "rayground's recorded events and are not available on this backend"
            ]
        counts = self.by_name()
        if not counts:
            return [f"no tasks or actor calls ran (wall time {self.wall_s:.2f} s)"]
        what = ", ".join(f"{n} x {name}" for name, n in sorted(counts.items()))
        lines = [f"ran: {what}"]
        ran = self._ran(None)
        if len(ran) < 2:
            return lines
        lines.append(
            f"at most {self.max_parallel(ran)} at once on {self.cpus:g} CPUs; "
            f"{self.busy_s(ran):.2f} s of work in {self.wall_s:.2f} s wall time "
            f"= {self.speedup(ran):.1f}x speed-up over one at a time (measured now)"
        )
        return lines

    def _ran(self, spans: list[TaskSpan] | None) -> list[TaskSpan]:
        spans = (
            [s for s in self.spans if s.kind != "ACTOR_CREATION_TASK"] if spans is None else spans
        )
        return [s for s in spans if s.start is not None and s.end is not None]


def backend() -> str:
    """Which runtime the learner's code talks to: "rayground", "ray" or "none" (no cluster)."""
    import rayground

    if rayground.is_initialized():
        return "rayground"
    ray = sys.modules.get("ray")
    if ray is not None and getattr(ray, "is_initialized", lambda: False)():
        return "ray"
    return "none"


@contextlib.contextmanager
def watch(settle_s: float = 2.0) -> Iterator[RunRecord]:
    """Record what the code inside the `with` block ran; the record is filled in on exit.

    `settle_s` bounds how long we wait for tasks the code submitted but did not wait for, so
    their end times can be counted.
    """
    kind = backend()
    record = RunRecord(backend=kind, known=kind == "rayground", started=time.time())
    analysis_run = _start_analysis() if kind != "none" else None
    t0 = time.perf_counter()
    try:
        yield record
    finally:
        record.wall_s = time.perf_counter() - t0
        if analysis_run is not None:
            _stop_analysis(analysis_run)  # the window ends here; the report is made below
        if record.known:
            _fill_from_rayground(record, settle_s)  # waits for the tasks' end events
        if analysis_run is not None:
            record.report = _analysis_report(analysis_run)
        if kind == "ray":
            ray = sys.modules["ray"]
            record.cpus = float(ray.cluster_resources().get("CPU", 0))
            _fill_from_ray(record)


def _start_analysis() -> Any:
    """The Jupyter run analysis recording the same block, or None where it cannot run (no
    IPython installed, or a Ray cluster that %ray_init did not start)."""
    try:
        from rayground.jupyter import analysis

        run = analysis.watch()
        run.__enter__()
        return run
    except Exception:
        return None


def _stop_analysis(run: Any) -> None:
    try:
        run.stop()
    except Exception:
        pass


def _analysis_report(run: Any) -> Any:
    try:
        return run.report()
    except Exception:
        return None


def _fill_from_rayground(record: RunRecord, settle_s: float) -> None:
    import rayground
    from rayground.util import state
    from rayground.util.library_status import is_board_task

    record.cpus = float(rayground.cluster_resources().get("CPU", 0))
    job = rayground.get_runtime_context().get_job_id()
    deadline = time.monotonic() + settle_s
    while True:
        rows = [
            r
            for r in state.list_tasks(limit=5_000)
            if r["job_id"] == job
            and r["creation_time_ms"] >= record.started * 1000 - 1
            and not is_board_task(r["name"])  # the live views' plumbing, not the learner's
        ]
        pending = [r for r in rows if r["state"] not in (*_TERMINAL, "CANCELLED")]
        actor_live = [r for r in pending if r["type"] == "ACTOR_CREATION_TASK"]
        # An actor's creation task stays open while the actor lives; everything else should end.
        if len(pending) == len(actor_live) or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    record.spans = [_span(r) for r in rows]


def _fill_from_ray(record: RunRecord) -> None:
    """The same spans from Ray's state API (`ray[default]`): the run analysis's rows where it
    ran (it already waited for Ray's task events to settle), else a read of our own that waits
    until two reads a second apart agree. Without the state API the record stays unknown."""
    rows = getattr(record.report, "rows", None)
    if rows is None:
        try:
            rows = _settled_ray_rows(record)
        except Exception:  # no dashboard (plain `ray`, not `ray[default]`), or it is not up
            return
    record.known = True
    record.spans = [_span(r) for r in rows]


def _settled_ray_rows(record: RunRecord) -> list[dict[str, Any]]:
    import ray
    from ray.util import state

    from rayground.jupyter.analysis import ray_event_interval_s
    from rayground.jupyter.backends import ray_task_row

    job = ray.get_runtime_context().get_job_id()
    address = ray.get_runtime_context().gcs_address
    end = record.started + record.wall_s
    before = None
    deadline = time.monotonic() + _RAY_SETTLE_S
    while True:
        rows = [
            ray_task_row(t)
            for t in state.list_tasks(
                address=address, filters=[("job_id", "=", job)], detail=True, limit=10_000
            )
        ]
        rows = [
            r
            for r in rows
            if record.started - 0.001 <= (r["creation_time_ms"] or 0) / 1000 <= end + 0.001
        ]
        now = sorted((r["task_id"], r["state"]) for r in rows)
        if (now == before and now) or time.monotonic() >= deadline:
            return rows
        before = now
        time.sleep(ray_event_interval_s())  # how often Ray reports task events


def _span(row: dict[str, Any]) -> TaskSpan:
    times = dict(row["events"])
    end = next((times[s] for s in _TERMINAL if s in times), None)
    return TaskSpan(
        task_id=row["task_id"],
        name=row["name"],
        kind=row["type"],
        state=row["state"],
        created=row["creation_time_ms"] / 1000,
        start=times.get("RUNNING"),
        end=end,
        deps=list(row.get("depends_on") or []),
        returns=list(row.get("returns") or []),
        actor_id=row["actor_id"],
        worker_pid=row["worker_pid"],
        error=row.get("error_message"),
        attempt=int(row.get("attempt_number") or 0),
        resources=dict(row.get("required_resources") or {}),
        node_id=row.get("node_id"),
    )


def api() -> Any:
    """The module the learner's code uses: rayground, or Ray after `%ray_init --backend ray`."""
    if backend() == "ray":
        return sys.modules["ray"]
    import rayground

    return rayground
