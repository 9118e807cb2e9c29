"""Run analysis: what a piece of learner code actually did on the cluster, and what to fix.

    from rayground.jupyter import analysis

    with analysis.watch() as run:
        results = ray.get([f.remote(i) for i in range(8)])
    report = run.report()          # a RunReport (dataclass)
    report.tasks_by_function       # {"f": 8}
    report.has("get_in_loop")      # the anti-patterns of "The Bad" list, by code
    print(report.text())

Sources, all recorded while the block ran: the task rows of the cluster (states and their times,
worker, consumed refs), the event stream (puts, workers blocked in `get` inside a task), and
hooks in this driver (each submission with its arguments; each get/wait with how long it
blocked). %%ray_explain and the course's exercise checks both use this module.

On real Ray only the task rows exist (ray.util.state); the report lists what it cannot know.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .._core import observe
from .spans import parallelism, union_length

# Thresholds, chosen so the anti-patterns are flagged on the seed's examples and not on code
# that follows "The Good" list (see tests/jupyter/test_explain.py).
LARGE_ARG_BYTES = 1024 * 1024  # an argument this big should travel by reference (ray.put)
REPEATS_FOR_BY_VALUE = 3  # ... when the same object is passed this many times
LOOP_ROUND_TRIPS = 3  # submit-then-get cycles before "get inside a submit loop" is flagged
TINY_TASK_S = 0.005  # median run time under this ...
TINY_TASK_COUNT = 50  # ... over at least this many tasks of one function: overhead dominates
RAY_SETTLE_S = 5.0  # Ray: how long to wait for its task events to arrive
# rayground: how long a finished run's report waits for the end events of its tasks (a direct
# actor call's completion and its worker's own times reach the head batched, a cancelled task's
# end once its worker was interrupted). Tasks the code left running cost this much once.
SETTLE_S = 1.0


_RAY_EVENT_INTERVAL = "RAY_task_events_report_interval_ms"  # Ray's spelling, not upper case


def ray_event_interval_s() -> float:
    """How often Ray's workers report task events: `RAY_task_events_report_interval_ms` (Ray's
    own setting, 1000 ms unless the environment that started the cluster changed it). Two reads
    of the state API this far apart that agree mean no event was still on its way."""
    try:
        ms = float(os.environ.get(_RAY_EVENT_INTERVAL, "1000"))
    except ValueError:
        ms = 1000.0
    return min(max(ms, 10.0), 10_000.0) / 1000


_DONE = ("FINISHED", "FAILED")


@dataclass
class Finding:
    """One anti-pattern seen in the run, with the evidence and the fix."""

    code: str  # get_in_loop | large_by_value | tiny_tasks | get_in_task
    title: str
    evidence: str
    fix: str

    def text(self) -> str:
        return f"! {self.title}\n    {self.evidence}\n    Fix: {self.fix}"


@dataclass
class RunReport:
    backend: str
    wall_s: float
    cpus: float
    tasks: int
    tasks_by_function: dict[str, int]
    finished: int
    failed: int
    unfinished: int
    max_parallelism: int
    mean_parallelism: float  # time-weighted, over the span in which tasks ran
    busy_s: float  # sum of task run times
    driver_blocked_s: float  # time the driver spent inside get/wait
    gets: int
    waits: int
    puts: int
    put_bytes: int
    findings: list[Finding] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # what this backend cannot tell
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)  # the task rows read

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)

    @property
    def utilization(self) -> float:
        """Share of the CPUs' time over the run's wall time that tasks used."""
        return self.busy_s / (self.cpus * self.wall_s) if self.cpus and self.wall_s else 0.0

    def summary_lines(self) -> list[str]:
        funcs = ", ".join(f"{name} x{n}" for name, n in sorted(self.tasks_by_function.items()))
        lines = [
            f"{self.tasks} task(s){': ' + funcs if funcs else ''}",
            f"  finished {self.finished}, failed {self.failed}, still running {self.unfinished}",
            f"parallelism: at most {self.max_parallelism} at once, "
            f"{self.mean_parallelism:.1f} on average, on {_num(self.cpus)} CPU(s)",
            f"wall time {self.wall_s:.2f} s; tasks ran {self.busy_s:.2f} s in total "
            f"({self.utilization:.0%} of the CPUs' time)",
        ]
        if "driver get/wait" not in " ".join(self.unknown):
            lines.append(
                f"driver waited {self.driver_blocked_s:.2f} s in get/wait "
                f"({self.gets} get, {self.waits} wait call(s)); "
                f"{self.puts} put(s), {_bytes(self.put_bytes)}"
            )
        return lines

    def text(self) -> str:
        lines = ["How this ran:", *("  " + ln for ln in self.summary_lines())]
        if self.findings:
            lines.append(f"{len(self.findings)} thing(s) to fix:")
            lines.extend(f.text() for f in self.findings)
        else:
            lines.append("No anti-patterns found.")
        for note in self.unknown:
            lines.append(f"(not known on this backend: {note})")
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _bytes(n: float) -> str:
    from .backends import format_bytes

    return format_bytes(n)


# ---------------------------------------------------------------------------- recording
@dataclass
class _Submit:
    task_id: str
    name: str
    at: float
    large_args: list[tuple[int, int, str]]  # (id(obj), size, type name) of big by-value args


@dataclass
class _Block:
    kind: str
    start: float
    end: float
    oids: list[str]


class Run:
    """Records a block of code; `report()` analyses it (also usable while still recording)."""

    def __init__(self, backend: Any = None) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self.start = 0.0
        self.end: float | None = None
        self.submits: list[_Submit] = []
        self.blocks: list[_Block] = []
        self.puts: dict[str, int] = {}
        self.blocked_tasks: dict[str, float] = {}  # task id -> seconds blocked in get
        self._blocked_since: dict[str, float] = {}
        self._remove_listener: Any = None
        self._main = threading.main_thread()
        self._report: RunReport | None = None
        self._rows_at_stop: list[dict[str, Any]] | None = None

    # -- context manager
    def __enter__(self) -> Run:
        from . import session

        if self._backend is None:
            self._backend = session.current(required=True)
        if self._backend.name == "rayground":
            from . import subscription

            self._remove_listener = subscription.add(self._on_events)
        observe.submit_hooks.append(self._on_submit)
        observe.block_hooks.append(self._on_block)
        self.start = time.time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.end is not None:
            return
        self.end = time.time()
        if self._on_submit in observe.submit_hooks:
            observe.submit_hooks.remove(self._on_submit)
        if self._on_block in observe.block_hooks:
            observe.block_hooks.remove(self._on_block)
        if self._remove_listener is not None:
            # Events up to now may still be in flight from the head: wait until they arrived.
            from . import subscription

            try:
                subscription.catch_up(self._backend._request("status")["event_seq"])
            except Exception:
                pass
            # Read the run's tasks (waiting for their end events) while the stream is on: with
            # no listener left the driver unsubscribes and empties the task model
            # (subscription.py), so a report read afterwards would find no tasks.
            try:
                self._rows_at_stop = self._task_rows(self._backend, self.end)
            except Exception:
                self._rows_at_stop = None
            self._remove_listener()
            self._remove_listener = None

    # -- hooks (driver threads / the client's I/O thread)
    def _on_submit(self, spec: dict, args: tuple, kwargs: dict) -> None:
        if threading.current_thread() is not self._main or spec.get("kind") == "actor_create":
            return  # other threads of the kernel (views) are not the learner's code
        large = []
        values = list(args) + list(kwargs.values())
        blob = spec.get("args")
        blob_size = blob[2] if blob and blob[0] == "s" else 0
        unknown = []
        for value in values:
            size = _known_size(value)
            if size is None:
                unknown.append(value)
            elif size >= LARGE_ARG_BYTES:
                large.append((id(value), size, type(value).__name__))
        if blob_size >= LARGE_ARG_BYTES and len(unknown) == 1 and not large:
            large.append((id(unknown[0]), blob_size, type(unknown[0]).__name__))
        with self._lock:
            self.submits.append(_Submit(spec["task_id"], spec.get("name", "?"), time.time(), large))

    def _on_block(self, kind: str, start: float, end: float, oids: list[str]) -> None:
        if threading.current_thread() is not self._main:
            return
        with self._lock:
            self.blocks.append(_Block(kind, start, end, list(oids)))

    def _on_events(self, events: list[tuple], lost: int) -> None:
        with self._lock:
            for _seq, t, kind, ident, state, extra in events:
                if t < self.start:
                    continue
                if kind == "object" and state == "SEALED" and ident.startswith("o"):
                    self.puts[ident] = int((extra or {}).get("size") or 0)
                elif kind == "worker" and extra and extra.get("task_id"):
                    task_id = extra["task_id"]
                    if state == "BLOCKED":
                        self._blocked_since[task_id] = t
                    elif state == "UNBLOCKED" and task_id in self._blocked_since:
                        began = self._blocked_since.pop(task_id)
                        self.blocked_tasks[task_id] = self.blocked_tasks.get(task_id, 0) + t - began

    # -- analysis
    def report(self) -> RunReport:
        """Analyse what ran. Cached once the block has ended."""
        if self._report is not None:
            return self._report
        end = self.end if self.end is not None else time.time()
        backend = self._backend
        rows = self._rows_at_stop
        if rows is None:
            rows = self._task_rows(backend, end)
        # Asked before taking the lock: a request may pump the connection, which runs
        # _on_events on this thread or waits for the thread that does (and needs the lock).
        cpus = _cpus(backend)
        with self._lock:
            for task_id, since in self._blocked_since.items():
                self.blocked_tasks.setdefault(task_id, end - since)
            report = analyze(
                rows,
                start=self.start,
                end=end,
                cpus=cpus,
                backend=backend.name,
                submits=list(self.submits),
                blocks=list(self.blocks),
                puts=dict(self.puts),
                blocked_tasks=dict(self.blocked_tasks),
            )
        if self.end is not None:
            self._report = report
        return report

    def _task_rows(self, backend: Any, end: float) -> list[dict[str, Any]]:
        """This run's tasks: submitted by this driver in the window, and their descendants.
        Once the run has ended, wait (up to SETTLE_S) for their end events, so a call that
        returned or a task that was cancelled is not reported as still running."""
        if backend.name != "rayground":
            return self._settled_rows(backend, end)
        from .model import model

        deadline = time.monotonic() + (SETTLE_S if self.end is not None else 0.0)
        while True:
            # The stream told us about every task since before the run began (subscribed at
            # __enter__, subscription.py), so no table read is needed unless events were lost.
            rows = self._pick(model.tasks(backend, complete=False), backend, end)
            pending = [
                r
                for r in rows
                if r.get("type") != "ACTOR_CREATION_TASK" and r.get("state") not in _DONE
            ]
            if not pending or time.monotonic() >= deadline:
                return rows
            time.sleep(0.02)

    def _settled_rows(self, backend: Any, end: float) -> list[dict[str, Any]]:
        """Ray reports task events every `ray_event_interval_s()`: read until two reads that far
        apart agree."""
        interval = ray_event_interval_s()
        began = time.monotonic()
        before = None
        while True:
            picked = self._pick(backend.tasks(), backend, end)
            now = sorted((r["task_id"], r.get("state")) for r in picked)
            waited = time.monotonic() - began
            if (now == before and (now or waited >= 2 * interval)) or waited > RAY_SETTLE_S:
                return picked
            before = now
            time.sleep(interval)

    def _pick(self, rows: list[dict[str, Any]], backend: Any, end: float) -> list[dict[str, Any]]:
        ours = {s.task_id for s in self.submits}
        job = _job_id(backend)
        picked = []
        by_id = {r["task_id"]: r for r in rows}
        for r in rows:
            created = (r.get("creation_time_ms") or 0) / 1000
            if r["task_id"] in ours:
                picked.append(r)
            # Ray's times are whole milliseconds: allow one either side of the window.
            elif self.start - 0.001 <= created <= end + 0.001 and (
                job is None or r.get("job_id") in (job, None)
            ):
                if _descends_from(r, ours, by_id) or not ours:
                    picked.append(r)
        return picked


def _descends_from(row: dict, roots: set[str], by_id: dict[str, dict]) -> bool:
    parent = row.get("parent_task_id")
    hops = 0
    while parent is not None and hops < 64:
        if parent in roots:
            return True
        up = by_id.get(parent)
        parent = up.get("parent_task_id") if up else None
        hops += 1
    return False


def _job_id(backend: Any) -> str | None:
    if backend.name != "rayground":
        return None
    from .._core import context

    client = context.current_client(required=False)
    return client.session.get("job_id") if client is not None else None


def _cpus(backend: Any) -> float:
    try:
        return float(backend.status().cpus)
    except Exception:
        return 0.0


def _known_size(value: Any) -> int | None:
    """Bytes a by-value argument costs to copy, where cheap to tell; None when unknown."""
    from .._core.object_ref import ObjectRef

    if isinstance(value, ObjectRef) or value is None or isinstance(value, bool | int | float):
        return 0
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if isinstance(value, bytes | bytearray | str | memoryview):
        return len(value)
    if isinstance(value, list | tuple | dict | set) and len(value) < 64:
        return sys.getsizeof(value)  # small containers: their own size is a fair lower bound
    return None


def watch(backend: Any = None) -> Run:
    """`with watch() as run: ...` then `run.report()`."""
    return Run(backend)


# ---------------------------------------------------------------------------- the analysis
def _intervals(row: dict, end: float, start: float | None = None) -> tuple[float, float] | None:
    """When the task ran: its RUNNING time (the worker's own start for a direct call) to its end
    (or `end` if still running); clipped to the window from `start` to `end` where given, so
    work before or after the run is not counted as its work."""
    times = dict(row.get("events") or [])
    began = times.get("RUNNING")
    if began is None:
        return None
    stop = times.get("FINISHED") or times.get("FAILED")
    if stop is None:
        recorded = (row.get("end_time_ms") or 0) / 1000 if row.get("state") in _DONE else 0
        stop = recorded or end
    stop = max(stop, began)
    if start is not None:
        began, stop = max(began, start), min(stop, end)
        if stop <= began:
            return None
    return began, stop


def _received(rows: list[dict[str, Any]], blocks: list[_Block]) -> list[dict[str, Any]]:
    """Rows as the driver saw them: a task whose value a get had already returned cannot have
    failed afterwards. (An actor killed right after its calls returned fails the calls whose
    completion had not reached the head yet; they returned, and are counted as finished.)"""
    got: dict[str, float] = {}
    for b in blocks:
        if b.kind == "get":
            for oid in b.oids:
                task = oid.rsplit(".", 1)[0]
                got[task] = min(got.get(task, b.end), b.end)
    out = []
    for r in rows:
        times = dict(r.get("events") or [])
        failed = times.get("FAILED")
        returned = got.get(r["task_id"])
        if r.get("state") == "FAILED" and failed is not None and returned is not None:
            if returned <= failed:
                events = [(s, t) for s, t in r["events"] if s != "FAILED"]
                r = {**r, "state": "FINISHED", "events": [*events, ("FINISHED", returned)]}
        out.append(r)
    return out


def analyze(
    rows: list[dict[str, Any]],
    *,
    start: float,
    end: float,
    cpus: float,
    backend: str = "rayground",
    submits: list[_Submit] | None = None,
    blocks: list[_Block] | None = None,
    puts: dict[str, int] | None = None,
    blocked_tasks: dict[str, float] | None = None,
) -> RunReport:
    submits = submits or []
    blocks = blocks or []
    puts = puts or {}
    blocked_tasks = blocked_tasks or {}
    tasks = _received([r for r in rows if r.get("type") != "ACTOR_CREATION_TASK"], blocks)
    by_fn = Counter(r.get("name") or "?" for r in tasks)
    spans = [s for s in (_intervals(r, end, start) for r in tasks) if s is not None]
    peak, mean = parallelism(spans)
    # A task blocked in get gives its CPU back: that time is not work.
    busy = max(0.0, sum(e - s for s, e in spans) - sum(blocked_tasks.values()))
    report = RunReport(
        backend=backend,
        wall_s=max(end - start, 0.0),
        cpus=cpus,
        tasks=len(tasks),
        tasks_by_function=dict(by_fn),
        finished=sum(1 for r in tasks if r.get("state") == "FINISHED"),
        failed=sum(1 for r in tasks if r.get("state") == "FAILED"),
        unfinished=sum(1 for r in tasks if r.get("state") not in _DONE),
        max_parallelism=peak,
        mean_parallelism=mean,
        busy_s=busy,
        driver_blocked_s=union_length([(b.start, b.end) for b in blocks]),
        gets=sum(1 for b in blocks if b.kind in ("get", "get_error")),
        waits=sum(1 for b in blocks if b.kind == "wait"),
        puts=len(puts),
        put_bytes=sum(puts.values()),
        rows=list(rows),
    )
    if backend != "rayground":
        report.unknown = [
            "driver get/wait time and by-value arguments (rayground records these in the "
            "driver; Ray does not); get-in-loop is inferred from task times",
            "get inside tasks (Ray does not report a worker blocked in get)",
        ]
    report.findings = [
        f
        for f in (
            _get_in_loop(submits, blocks) if backend == "rayground" else _serial_rows(tasks),
            _large_by_value(submits),
            _tiny_tasks(tasks, end),
            _get_in_task(tasks, blocked_tasks),
        )
        if f is not None
    ]
    return report


def _get_in_loop(submits: list[_Submit], blocks: list[_Block]) -> Finding | None:
    """Round trips: a get on exactly the task(s) submitted since the previous get, again and
    again. Each one waits for a task before the next is even submitted: no parallelism."""
    events = [(s.at, "s", s) for s in submits] + [(b.start, "g", b) for b in blocks]
    events.sort(key=lambda x: x[0])
    since: list[_Submit] = []
    trips: list[tuple[str, float]] = []
    for _t, kind, item in events:
        if kind == "s":
            since.append(item)
            continue
        if item.kind in ("get", "get_error") and since and len(since) <= 2:
            wanted = {oid.rsplit(".", 1)[0] for oid in item.oids}
            if wanted and wanted <= {s.task_id for s in since}:
                trips.append((since[-1].name, item.end - item.start))
        since = []
    if len(trips) < LOOP_ROUND_TRIPS:
        return None
    names = Counter(n for n, _ in trips)
    name = names.most_common(1)[0][0]
    waited = sum(w for _, w in trips)
    return Finding(
        "get_in_loop",
        "ray.get inside the submit loop: tasks ran one at a time",
        f"{len(trips)} times the driver submitted {name} and then waited for that very result "
        f"({waited:.2f} s in all) before submitting the next one.",
        "submit everything first, then get once: refs = [f.remote(x) for x in items]; "
        "results = ray.get(refs) (or ray.wait to take results as they finish).",
    )


def _serial_rows(tasks: list[dict]) -> Finding | None:
    """Without driver hooks (Ray): tasks of one function each created only after the previous
    one finished, again and again, is what a get inside the submit loop leaves behind."""
    runs: list[tuple[str, float, float]] = []
    for r in tasks:
        if r.get("type") == "ACTOR_TASK":
            continue  # calls to one actor run one after another by design
        times = dict(r.get("events") or [])
        created = (r.get("creation_time_ms") or 0) / 1000 or times.get("PENDING_ARGS_AVAIL")
        done = times.get("FINISHED") or (r.get("end_time_ms") or 0) / 1000
        if created and done:
            runs.append((r.get("name") or "?", created, done))
    runs.sort(key=lambda x: x[1])
    streak = best = 0
    name = ""
    for prev, cur in itertools.pairwise(runs):
        if cur[0] == prev[0] and cur[1] >= prev[2]:
            streak += 1
            if streak > best:
                best, name = streak, cur[0]
        else:
            streak = 0
    if best + 1 < LOOP_ROUND_TRIPS:
        return None
    return Finding(
        "get_in_loop",
        "tasks ran one at a time, each submitted after the previous finished",
        f"{best + 1} {name} tasks in a row were created only once the one before had finished: "
        "the driver most likely called ray.get on each before submitting the next.",
        "submit everything first, then get once: refs = [f.remote(x) for x in items]; "
        "results = ray.get(refs) (or ray.wait to take results as they finish).",
    )


def _large_by_value(submits: list[_Submit]) -> Finding | None:
    counts: Counter = Counter()
    info: dict[int, tuple[int, str]] = {}
    names: dict[int, str] = {}
    for s in submits:
        for obj_id, size, type_name in s.large_args:
            counts[obj_id] += 1
            info[obj_id] = (size, type_name)
            names[obj_id] = s.name
    repeated = [(oid, n) for oid, n in counts.items() if n >= REPEATS_FOR_BY_VALUE]
    if not repeated:
        return None
    obj_id, n = max(repeated, key=lambda x: x[1] * info[x[0]][0])
    size, type_name = info[obj_id]
    return Finding(
        "large_by_value",
        "the same large object was passed by value again and again",
        f"a {type_name} of {_bytes(size)} was passed to {names[obj_id]} {n} times: it was "
        f"serialized and stored {n} times ({_bytes(size * n)} copied).",
        "put it in the object store once and pass the ref: ref = ray.put(data); "
        "[f.remote(ref) for _ in ...] (tasks then read it zero-copy).",
    )


def _tiny_tasks(tasks: list[dict], end: float) -> Finding | None:
    durations: dict[str, list[float]] = {}
    for r in tasks:
        span = _intervals(r, end)
        if span is not None and r.get("state") == "FINISHED":
            durations.setdefault(r.get("name") or "?", []).append(span[1] - span[0])
    worst = None
    for name, ds in durations.items():
        if len(ds) >= TINY_TASK_COUNT:
            median = statistics.median(ds)
            if median < TINY_TASK_S and (worst is None or len(ds) > len(worst[1])):
                worst = (name, ds, median)
    if worst is None:
        return None
    name, ds, median = worst
    overheads = []
    for r in tasks:
        if (r.get("name") or "?") != name:
            continue
        times = dict(r.get("events") or [])
        created, done = times.get("PENDING_ARGS_AVAIL"), times.get("FINISHED")
        if created is not None and done is not None:
            overheads.append(done - created)
    per_task = statistics.median(overheads) if overheads else 0.0
    return Finding(
        "tiny_tasks",
        "tasks so small that overhead dominates",
        f"{len(ds)} {name} tasks ran {median * 1000:.2f} ms each (median), while each spent "
        f"{per_task * 1000:.2f} ms from submission to result: scheduling costs more than the work.",
        "give each task a batch: split the inputs into chunks (about one per CPU, or tasks of "
        "10 ms or more) and loop inside the task, e.g. f_batch.remote(items[i:i + 1000]).",
    )


def _get_in_task(tasks: list[dict], blocked_tasks: dict[str, float]) -> Finding | None:
    names = {r["task_id"]: r.get("name") or "?" for r in tasks}
    hits = {tid: s for tid, s in blocked_tasks.items() if tid in names}
    if not hits:
        return None
    per_fn = Counter(names[t] for t in hits)
    fn = per_fn.most_common(1)[0][0]
    return Finding(
        "get_in_task",
        "ray.get inside a task: workers sat waiting",
        f"{len(hits)} task(s) ({', '.join(f'{n} x{c}' for n, c in sorted(per_fn.items()))}) "
        f"blocked in get for {sum(hits.values()):.2f} s in all while holding a worker.",
        f"pass the ref as an argument instead (Ray resolves it before {fn} starts): "
        f"{fn}.remote(other.remote()), or return refs and let the driver compose them.",
    )


class ReportView:
    """How %%ray_explain shows a report: HTML for people, `RunReport.text()` as text/plain."""

    def __init__(self, report: RunReport) -> None:
        self.report = report

    def __repr__(self) -> str:
        return self.report.text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.report.text())

    def _repr_html_(self) -> str:
        import html

        r = self.report
        summary = "".join(f"<li>{html.escape(line.strip())}</li>" for line in r.summary_lines())
        if r.findings:
            items = "".join(
                f'<li><b style="color:#b3261e">{html.escape(f.title)}</b><br>'
                f"{html.escape(f.evidence)}<br><b>Fix:</b> <code>{html.escape(f.fix)}</code></li>"
                for f in r.findings
            )
            found = f"<p>{len(r.findings)} thing(s) to fix:</p><ul>{items}</ul>"
        else:
            found = '<p style="color:#3aa35c">No anti-patterns found.</p>'
        unknown = "".join(
            f'<div style="color:#666">not known on this backend: {html.escape(u)}</div>'
            for u in r.unknown
        )
        return (
            f'<div style="font-family:var(--jp-ui-font-family,sans-serif);font-size:13px">'
            f"<b>How this ran</b><ul>{summary}</ul>{found}{unknown}</div>"
        )
