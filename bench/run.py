"""Run the benchmark workloads on rayground and on real Ray, and write the comparison.

    python bench/run.py [--backends rayground,ray] [--quick] [--out docs/benchmarks.md]
                        [--json bench/results/latest.json] [--workloads noop_sync,...]
                        [--compare bench/results/ray-baseline.json] [--timeout 300]
                        [--python ray=/path/to/ray-venv/bin/python] [--render RESULTS.json]

Relative paths are taken from the repository root. ``--python ray=...`` runs Ray under an
interpreter of its own: in an environment that also holds the Jupyter extra, every Ray process
imports more (jsonschema's format checkers), which slows Ray's start-up about threefold. That is
not Ray's own cost, so the Ray baseline in bench/results/ray-baseline.json was taken in a virtual
environment with only Ray and NumPy. ``--compare`` fills a backend that is not run now from an
earlier results file (the table says so), and ``--render`` rewrites the markdown from one.

Each workload of each backend runs in a fresh process (``bench/workloads.py BACKEND WORKLOAD``), so
the backends never share a process and every measurement starts clean. A backend that cannot be
imported is reported as "not installed"; a workload that fails, hangs or crashes is reported with
the last line of its error, and the run goes on.

This process makes itself a child subreaper, so that whatever a workload leaves running after it
exits (a daemon that outlived ``shutdown()``) is re-parented here: it is reported in the results
and stopped before the next workload starts.

Before each workload the runner waits (up to --quiet-wait seconds) until processes outside the
benchmark use less than a quarter of a core, and while the workload runs it records how much CPU
those other processes took: on a 2-core machine anything else running skews the numbers. A
workload they disturbed (more than --interference cores on average) is run again, up to --tries
times in all, and the least disturbed run is kept; the notes under the table say where the
interference remained.

Nothing in the output is written by hand: every number comes from the measurements of this run (or,
with --compare, of the earlier run named in the table).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import workloads as W  # noqa: E402  (bench/ is not a package)

DEFAULT_BACKENDS = ["rayground", "ray"]
SUBJECT = "rayground"  # the backend the targets are about
INTERPRETERS: dict[str, str] = {}  # backend -> python executable (--python), else this one
BASELINE = "ray"  # the backend it is compared with


# --------------------------------------------------------------------------------------------------
# What the table shows


@dataclass
class Ratio:
    """rayground better than Ray by at least this factor (in the row's direction)."""

    factor: float

    def describe(self, row) -> str:
        if self.factor == 1:
            return f"ratio ≥ 1 (no worse than {BASELINE})"
        return f"ratio ≥ {self.factor:g}"

    def check(self, row, values, reference) -> bool | None:
        r = row.ratio(values)
        return None if r is None else r >= self.factor


@dataclass
class AbsMax:
    """rayground's value at most this much (for times)."""

    limit: float

    def describe(self, row) -> str:
        return f"< {fmt(self.limit, row.unit)}"

    def check(self, row, values, reference) -> bool | None:
        v = values.get(SUBJECT)
        return None if v is None else v <= self.limit


@dataclass
class RefFraction:
    """rayground's value at least this fraction of a reference point."""

    fraction: float
    workload: str
    path: tuple[str, ...]
    label: str

    def describe(self, row) -> str:
        return f"≥ {self.fraction:.0%} of {self.label}"

    def check(self, row, values, reference) -> bool | None:
        v = values.get(SUBJECT)
        ref = metric_value(reference.get(self.workload), self.path)
        return None if v is None or ref is None else v >= self.fraction * ref


@dataclass
class Row:
    label: str
    workload: str
    path: tuple[str, ...]
    unit: str  # "s", "1/s", "B", "B/s", "count"
    higher_is_better: bool
    targets: list = field(default_factory=list)

    def ratio(self, values: dict) -> float | None:
        """> 1 means rayground is better."""
        a, b = values.get(SUBJECT), values.get(BASELINE)
        if not a or not b:
            return None
        return a / b if self.higher_is_better else b / a

    def direction(self) -> str:
        if self.higher_is_better:
            return f"{SUBJECT} ÷ {BASELINE}"
        return f"{BASELINE} ÷ {SUBJECT}"


NUMPY_100MB = ("numpy_copy", ("100MB",), "a NumPy copy (100 MB)")
NUMPY_LARGE = ("numpy_copy", ("large",), "a NumPy copy (same size)")

# fmt: off
ROWS = [
    Row("Start-up: `init()` to first task result", "startup", ("first_result",), "s", False,
        [Ratio(10)]),
    Row("`import` of the module (fresh process)", "startup", ("import",), "s", False),
    Row("Idle memory: PSS of all cluster processes", "idle_memory", ("pss_total",), "B", False,
        [Ratio(5)]),
    Row("Idle: cluster processes (count)", "idle_memory", ("process_count",), "count", False),
    Row("No-op tasks, one at a time", "noop_sync", ("tasks_per_s",), "1/s", True, [Ratio(4)]),
    Row("No-op tasks, {n} submitted at once", "noop_batch", ("tasks_per_s",), "1/s", True,
        [Ratio(5)]),
    Row("Actor calls, sync (one at a time)", "actor_sync", ("calls_per_s",), "1/s", True,
        [Ratio(2.5)]),
    Row("Actor calls, async ({n} submitted at once)", "actor_async", ("calls_per_s",), "1/s",
        True, [Ratio(2.5)]),
    Row("asyncio actor calls, one at a time", "asyncio_actor", ("sync_calls_per_s",), "1/s",
        True),
    Row("asyncio actor calls, {n} submitted at once", "asyncio_actor", ("batch_calls_per_s",),
        "1/s", True),
    Row("`put` of a small object", "small_objects", ("put_per_s",), "1/s", True),
    Row("`get` of a small object", "small_objects", ("get_per_s",), "1/s", True),
    Row("`get(put(x))` of a small object", "small_objects", ("put_get_per_s",), "1/s", True),
    Row("`put` bandwidth, {size} array", "put_get_large", ("100MB", "put_bandwidth"), "B/s",
        True, [Ratio(1), RefFraction(0.7, NUMPY_100MB[0], NUMPY_100MB[1], NUMPY_100MB[2])]),
    Row("`get` time, {size} array", "put_get_large", ("100MB", "get_time"), "s", False),
    Row("`put` bandwidth, {size} array", "put_get_large", ("large", "put_bandwidth"), "B/s",
        True, [Ratio(1), RefFraction(0.7, NUMPY_LARGE[0], NUMPY_LARGE[1], NUMPY_LARGE[2])]),
    Row("`get` time, {size} array", "put_get_large", ("large", "get_time"), "s", False,
        [AbsMax(1e-3)]),
    Row("Eight tasks reading one `put` {size} array", "eight_readers", ("wall",), "s", False,
        [Ratio(1)]),
    Row("100 tasks of 50 ms sleep on 2 CPUs (ideal 2.5 s)", "sleep_tasks", ("wall",), "s", False,
        [AbsMax(2.6)]),
    Row("`wait` over 1,000 refs: submit + wait for all", "wait_1000",
        ("submit_and_wait", "total"), "s", False),
    Row("`wait` over 1,000 refs, all already finished", "wait_1000", ("wait_all_ready",), "s",
        False),
    Row("Drain 1,000 refs with `wait(num_returns=1)`", "wait_1000", ("drain_num_returns_1",),
        "s", False),
]

REFERENCE_ROWS = [
    ("`multiprocessing.Pool(2)` no-op tasks, one at a time (`apply`)", "pool_noop_sync",
     ("tasks_per_s",), "1/s"),
    ("`multiprocessing.Pool(2)` no-op tasks, {n} at once (`apply_async`)", "pool_noop_batch",
     ("tasks_per_s",), "1/s"),
    ("`multiprocessing.Pool(2)` no-op tasks, {n} with `map` (chunked)", "pool_noop_batch",
     ("map_per_s",), "1/s"),
    ("NumPy copy of a {size} array into fresh memory", "numpy_copy", ("100MB",), "B/s"),
    ("NumPy copy of a {size} array into fresh memory", "numpy_copy", ("large",), "B/s"),
]
# fmt: on


# --------------------------------------------------------------------------------------------------
# Formatting


def fmt(v, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "s":
        if v < 1e-3:
            return f"{v * 1e6:.0f} µs"
        if v < 1:
            return f"{v * 1e3:.3g} ms"
        return f"{v:.3g} s"
    if unit == "1/s":
        return f"{v:,.0f} /s" if v >= 100 else f"{v:.3g} /s"
    if unit == "B":
        return f"{v / W.MB:,.0f} MB"
    if unit == "B/s":
        return f"{v / W.GB:.2f} GB/s"
    if unit == "count":
        return f"{v:g}"
    return f"{v:.4g} {unit}"


def fmt_size(nbytes) -> str:
    if nbytes is None:
        return "?"
    if nbytes >= W.GB:
        return f"{nbytes / W.GB:.3g} GB"
    return f"{nbytes / W.MB:.3g} MB"


def short_command(cmdline: str, words: int = 4) -> str:
    """The first few words of a command line, paths cut to their last part."""
    out = []
    for word in cmdline.split()[:words]:
        out.append(os.path.basename(word) if word.startswith("/") else word)
    return " ".join(out)[:70]


def cell_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def metric_node(workload_result: dict | None, path: tuple[str, ...]):
    if not workload_result or not workload_result.get("ok"):
        return None
    node = workload_result.get("metrics")
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def metric_value(workload_result: dict | None, path: tuple[str, ...]):
    node = metric_node(workload_result, path)
    if isinstance(node, dict):
        return node.get("median")
    return node if isinstance(node, (int, float)) else None


def metric_error(workload_result: dict | None, path: tuple[str, ...]) -> str | None:
    """The error that stands where the metric should be, if any."""
    if workload_result is None:
        return "not run"
    if workload_result.get("not_installed"):
        return "not installed"
    if not workload_result.get("ok"):
        return "error: " + (workload_result.get("error") or "unknown")
    node = workload_result.get("metrics")
    for key in path:
        if isinstance(node, dict) and "error" in node and key not in node:
            return "error: " + node["error"]
        if not isinstance(node, dict) or key not in node:
            return "missing"
        node = node[key]
    if isinstance(node, dict) and "error" in node:
        return "error: " + node["error"]
    return None


# --------------------------------------------------------------------------------------------------
# Processes: the subreaper, the tree of a workload, the CPU that other processes take


def become_subreaper() -> bool:
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    return False


def reap_zombies() -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break


def cpu_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


class ForeignCPU:
    """Samples, once a second, the CPU time of every process that is not this one or one of its
    descendants. ``cores()`` is the average number of cores they kept busy."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.me = os.getpid()
        self.last: dict[int, int] = {}
        self.ours: set[int] = set()
        self.foreign_ticks = 0
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.top: dict[str, int] = {}

    def sample(self) -> None:
        table = W.proc_table()
        ours = W.descendants(self.me, table) | {self.me}
        self.ours |= ours
        for pid, info in table.items():
            ticks = cpu_ticks(pid)
            if ticks is None:
                continue
            prev = self.last.get(pid)
            self.last[pid] = ticks
            if pid in ours or prev is None:
                continue
            delta = ticks - prev
            if delta > 0:
                self.foreign_ticks += delta
                name = info["comm"]
                self.top[name] = self.top.get(name, 0) + delta

    def start(self) -> ForeignCPU:
        self.sample()
        self.t0 = time.monotonic()
        self.foreign_ticks = 0
        self.top = {}
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> dict:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        top = sorted(self.top.items(), key=lambda kv: -kv[1])[:3]
        return {
            "cores": self.foreign_ticks / self.HZ / elapsed,
            "cpu_s": self.foreign_ticks / self.HZ,
            "top": [f"{name} {ticks / self.HZ:.1f}s" for name, ticks in top],
        }


def wait_for_quiet(max_wait: float, threshold: float = 0.25) -> dict:
    """Wait until other processes use less than ``threshold`` cores over one second."""
    t0 = time.monotonic()
    while True:
        probe = ForeignCPU().start()
        time.sleep(1.0)
        load = probe.stop()
        waited = time.monotonic() - t0
        if load["cores"] < threshold or waited >= max_wait:
            return {"waited_s": waited, "cores_at_start": load["cores"], "top": load["top"]}


def kill_tree(pids: set[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in pids if os.path.exists(f"/proc/{p}")]
        for pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        if not alive:
            return
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in alive):
            reap_zombies()
            time.sleep(0.05)
    reap_zombies()


def leftovers(grace: float = 3.0) -> list[dict]:
    """Processes still running under this one after a workload's process exited."""
    deadline = time.monotonic() + grace
    while True:
        reap_zombies()
        table = W.proc_table()
        left = W.descendants(os.getpid(), table)
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    out = [
        {"pid": p, "comm": table[p]["comm"], "cmdline": table[p]["cmdline"][:160]}
        for p in sorted(left)
        if p in table
    ]
    if left:
        kill_tree(left)
    return out


# --------------------------------------------------------------------------------------------------
# Running one workload


def run_workload(
    backend: str, workload: str, quick: bool, timeout: float, quiet_wait: float
) -> dict:
    quiet = wait_for_quiet(quiet_wait) if quiet_wait > 0 else None
    python = INTERPRETERS.get(backend, sys.executable)
    args = [python, str(BENCH / "workloads.py"), backend, workload]
    if quick:
        args.append("--quick")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out_path, err_path = Path(tmp, "stdout"), Path(tmp, "stderr")
        monitor = ForeignCPU().start()
        t0 = time.perf_counter()
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen(
                args, stdout=out, stderr=err, env=env, cwd=REPO, start_new_session=True
            )
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                tree = W.descendants(proc.pid, W.proc_table()) | {proc.pid}
                kill_tree(tree)
                proc.wait()
        wall = time.perf_counter() - t0
        foreign = monitor.stop()
        stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    left = leftovers()
    result = W.parse_result(stdout)
    if result is None:
        if timed_out:
            msg = f"timed out after {timeout:g} s"
        else:
            msg = W.tail(stderr) or f"exit status {proc.returncode} with no result"
            if proc.returncode and proc.returncode < 0:
                msg = f"killed by signal {-proc.returncode}; " + msg
        result = {"ok": False, "error": msg}
    result.update(
        wall_s=wall,
        returncode=proc.returncode,
        timed_out=timed_out,
        foreign_cpu=foreign,
        quiet=quiet,
        leftover_processes=left,
    )
    if not result.get("ok"):
        result["stderr_tail"] = stderr[-4000:]
    return result


def run_with_retries(backend: str, workload: str, args, timeout: float, log) -> dict:
    """Run a workload; if other processes took more than --interference cores while it ran, run
    it again (up to --tries times in all) and keep the run they disturbed least. A workload that
    fails is run once more straight away (a loaded machine can make Ray's start-up time out)."""
    best = None
    failures = 0
    for attempt in range(1, max(args.tries, 1) + 1):
        quiet_wait = args.quiet_wait if failures == 0 else 0
        r = run_workload(backend, workload, args.quick, timeout, quiet_wait)
        r["attempt"] = attempt
        load = r["foreign_cpu"]["cores"]
        if (
            best is None
            or (r.get("ok") and not best.get("ok"))
            or (r.get("ok") and load < best["foreign_cpu"]["cores"])
        ):
            best = r
        if not r.get("ok"):
            # a failure is tried once more (Ray's own start-up can time out on a loaded machine),
            # but not when the backend is missing or the workload ran out of time
            failures += 1
            if r.get("not_installed") or r.get("timed_out") or failures > 1:
                break
            if attempt == args.tries:
                break
            log(f"  failed ({r.get('error')}); running it again")
            continue
        if load <= args.interference:
            break
        if attempt < args.tries:
            log(f"  other processes used {load:.2f} cores meanwhile; running it again")
    best["attempts"] = attempt
    return best


def status_line(result: dict) -> str:
    if result.get("not_installed"):
        return "not installed"
    if not result.get("ok"):
        return "ERROR " + result.get("error", "")
    errors = []

    def walk(node, path):
        if isinstance(node, dict):
            if "error" in node:
                errors.append("/".join(path) + ": " + node["error"])
            for k, v in node.items():
                walk(v, (*path, k))

    walk(result.get("metrics"), ())
    extra = f" ({len(errors)} measurement(s) failed: {errors[0]})" if errors else ""
    return f"ok in {result['wall_s']:.1f} s" + extra


# --------------------------------------------------------------------------------------------------
# Machine description


def machine() -> dict:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = None
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    shm = None
    with contextlib.suppress(OSError):
        st = os.statvfs("/dev/shm")
        shm = st.f_blocks * st.f_frsize
    return {
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_bytes": mem,
        "dev_shm_bytes": shm,
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def git_commit() -> dict:
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD") or None,
        "dirty": bool(git("status", "--porcelain", "--", "runtime")),
    }


# --------------------------------------------------------------------------------------------------
# Output


def row_values(row: Row, backends: dict) -> tuple[dict, dict]:
    values, cells = {}, {}
    for name, b in backends.items():
        wr = b.get("workloads", {}).get(row.workload)
        if b.get("status") == "not installed":
            cells[name] = "not installed"
            continue
        err = metric_error(wr, row.path)
        if err:
            cells[name] = cell_escape(err if len(err) < 140 else err[:137] + "…")
            continue
        v = metric_value(wr, row.path)
        values[name] = v
        cells[name] = fmt(v, row.unit)
    return values, cells


def row_label(row_label_text: str, backends: dict, workload: str, path, reference=None) -> str:
    """Fill {n} and {size} from whichever result has them (they differ in --quick mode)."""
    candidates = [b.get("workloads", {}).get(workload) for b in backends.values()]
    if reference is not None:
        candidates.append(reference.get(workload))
    n = size = None
    for wr in candidates:
        node = metric_node(wr, path)
        if isinstance(node, dict):
            n = n or node.get("n")
            size = size or node.get("nbytes")
        parent = metric_node(wr, path[:1])
        if isinstance(parent, dict):
            for v in parent.values():
                if isinstance(v, dict):
                    n = n or v.get("n")
                    size = size or v.get("nbytes")
    return row_label_text.format(n=f"{n:,}" if n else "N", size=fmt_size(size))


def build_rows(results: dict) -> list[dict]:
    backends = results["backends"]
    reference = results.get("reference", {})
    rows = []
    for row in ROWS:
        values, cells = row_values(row, backends)
        ratio = row.ratio(values)
        checks = [(t.describe(row), t.check(row, values, reference)) for t in row.targets]
        if not checks:
            met = None
        elif any(c is False for _, c in checks):
            met = False
        elif all(c is True for _, c in checks):
            met = True
        else:
            met = None
        rows.append(
            {
                "label": row_label(row.label, backends, row.workload, row.path),
                "workload": row.workload,
                "metric": "/".join(row.path),
                "unit": row.unit,
                "higher_is_better": row.higher_is_better,
                "values": values,
                "cells": cells,
                "ratio": ratio,
                "ratio_direction": row.direction(),
                "targets": [{"target": d, "met": c} for d, c in checks],
                "met": met,
            }
        )
    return rows


def write_markdown(results: dict, out: Path) -> None:
    m = results["machine"]
    backends = results["backends"]
    reference = results.get("reference", {})
    names = list(backends)
    lines = [
        "# Benchmarks: rayground and Ray",
        "",
        "Generated by `" + results["command"] + "` on " + results["date"] + ". "
        "Every number below was measured by that run; none is written by hand.",
        "",
    ]
    if results["quick"]:
        lines += [
            "**Quick mode**: smaller sizes and fewer repetitions; a smoke test, not a "
            "measurement to quote.",
            "",
        ]
    lines += [
        "## Machine",
        "",
        f"- CPU: {m['cpu_model']}, {m['cpu_count']} logical cores ({m['cpus_usable']} usable)",
        f"- Memory: {fmt_size(m['memory_bytes'])}; /dev/shm: {fmt_size(m['dev_shm_bytes'])}",
        f"- Kernel: {m['kernel']} ({m['os']})",
        f"- Python {m['python']}, NumPy {m['numpy']}",
    ]
    for name, b in backends.items():
        version = b.get("version") or "?"
        extra = ""
        if name == SUBJECT and results.get("git"):
            g = results["git"]
            extra = f", git {g['commit']}" + (
                " with uncommitted changes in runtime/" if g["dirty"] else ""
            )
        if b.get("python"):
            extra += f"; run with `{b['python']}` (Python {b.get('python_version')}, NumPy "
            extra += f"{b.get('numpy')})"
        if b.get("from_file"):
            extra += f"; results taken from `{b['from_file']}` ({b.get('date', '?')})"
        lines.append(f"- {name}: {b.get('status')}, version {version}{extra}")
    lines += [
        "",
        "## How it was measured",
        "",
        "- Each workload runs in a fresh process per backend (`bench/workloads.py BACKEND "
        "WORKLOAD`); the backends never share a process. Workloads are interleaved (each "
        "workload on every backend, then the next), so a drift in the machine's speed over the "
        "run does not fall on one backend only.",
    ]
    if results.get("rayground_bytecode_compiled"):
        lines.append(
            "- rayground runs from this checkout (`runtime/`), its bytecode compiled first "
            "(`compileall`), as `pip install` compiles an installed package such as Ray's: "
            "otherwise, where `PYTHONDONTWRITEBYTECODE` is set, every head and worker process "
            "would compile the runtime's sources as it starts."
        )
    lines += [
        "- Every workload calls `init(num_cpus=2)` itself; the arguments used were:",
    ]
    for name, b in backends.items():
        kw = b.get("init_kwargs")
        if kw:
            lines.append(
                f"  - {name}: `init({', '.join(f'{k}={v!r}' for k, v in kw.items())})`; "
                "the large-object workloads add `object_store_memory=3 * 1024**3`"
            )
    lines += [
        "  - Ray's dashboard (an optional web UI) is turned off; all other options, "
        "`log_to_driver` included, are left at their defaults.",
        *[
            f"- {name} ran under `{b['python']}` (`--python`), not the runner's own interpreter."
            for name, b in backends.items()
            if b.get("python") and b["python"] != results.get("runner_python", sys.executable)
        ],
        "- Values are the median of several repetitions after a warm-up (best, first and every "
        "sample are in the JSON). Start-up is measured in a fresh process per sample, after the "
        "import.",
        "- Idle memory is the sum of PSS (`/proc/PID/smaps_rollup`) over the cluster's processes "
        "after `init`, one task and a 2 s settle, without the driver process (listed below).",
        "- Sizes are decimal: 1 MB = 10⁶ bytes, 1 GB = 10⁹ bytes.",
        f"- Results as JSON: `{results['json_path']}`.",
        "",
        "## Results",
        "",
        "Ratio > 1 means rayground is better; its direction is given per row.",
        "",
    ]
    header = ["Workload", *names, "ratio", "ratio is", "target", "met?"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append(
        "|" + "|".join(["---"] + ["---:"] * len(names) + ["---:", "---", "---", "---"]) + "|"
    )
    for r in results["rows"]:
        ratio = f"{r['ratio']:.2f}×" if r["ratio"] is not None else "—"
        target = "; ".join(t["target"] for t in r["targets"]) or "—"
        met = {True: "yes", False: "**no**", None: "—" if not r["targets"] else "n/a"}[r["met"]]
        cells = [r["cells"].get(n, "—") for n in names]
        lines.append(
            "| " + " | ".join([r["label"], *cells, ratio, r["ratio_direction"], target, met]) + " |"
        )
    lines += ["", "## Reference points", "", "| Reference | value |", "|---|---:|"]
    for label, workload, path, unit in REFERENCE_ROWS:
        wr = reference.get(workload)
        err = metric_error(wr, path)
        text = cell_escape(err) if err else fmt(metric_value(wr, path), unit)
        lines.append(f"| {row_label(label, {}, workload, path, reference)} | {text} |")
    start_method = metric_node(reference.get("pool_noop_sync"), ("start_method",))
    if start_method:
        lines += ["", f"`multiprocessing` start method: {start_method}."]

    lines += ["", "## Idle processes", ""]
    for name, b in backends.items():
        wr = b.get("workloads", {}).get("idle_memory")
        mets = wr.get("metrics") if wr and wr.get("ok") else None
        if not mets:
            continue
        lines.append(
            f"**{name}**: {mets['process_count']} processes, "
            f"{fmt(mets['pss_total']['median'], 'B')} PSS "
            f"({fmt(mets['rss_total']['median'], 'B')} RSS); the driver itself: "
            f"{fmt(mets['driver_pss_bytes'], 'B')} PSS."
        )
        lines.append("")
        lines.append("| pid | process | PSS | RSS | counted because |")
        lines.append("|---:|---|---:|---:|---|")
        for p in sorted(mets["processes"], key=lambda p: -p["Pss"]):
            name_text = cell_escape(short_command(p["cmdline"]) or p["comm"])
            lines.append(
                f"| {p['pid']} | `{name_text}` | {p['Pss'] / 1024:.1f} MiB | "
                f"{p['Rss'] / 1024:.1f} MiB | {p['why']} |"
            )
        lines.append("")

    notes = []
    for name, b in [*backends.items(), ("reference", {"workloads": reference})]:
        if b.get("from_file"):
            continue
        for wname, wr in b.get("workloads", {}).items():
            if not wr:
                continue
            fc = wr.get("foreign_cpu") or {}
            if fc.get("cores", 0) > 0.1:
                notes.append(
                    f"- {name} / {wname}: other processes used {fc['cores']:.2f} cores "
                    f"on average while it ran ({', '.join(fc.get('top', []))})"
                    + (
                        f"; least disturbed of {wr['attempts']} runs"
                        if wr.get("attempts", 1) > 1
                        else ""
                    )
                )
            if wr.get("leftover_processes"):
                procs = ", ".join(p["comm"] for p in wr["leftover_processes"])
                notes.append(
                    f"- {name} / {wname}: left processes running after it exited, "
                    f"stopped by the runner: {procs}"
                )
            if not wr.get("ok") and not wr.get("not_installed"):
                notes.append(f"- {name} / {wname}: failed: `{cell_escape(wr.get('error', ''))}`")
    if notes:
        lines += ["## Notes on this run", "", *notes, ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines).rstrip() + "\n")


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1, default=str) + "\n")
    tmp.replace(path)


# --------------------------------------------------------------------------------------------------
# Main


def compile_checkout() -> bool:
    """Write the checkout's bytecode caches, under the interpreter that runs rayground."""
    python = INTERPRETERS.get("rayground", sys.executable)
    done = subprocess.run(
        [python, "-m", "compileall", "-q", str(W.RUNTIME / "rayground")], timeout=120
    )
    return done.returncode == 0


def probe_backend(name: str, timeout: float) -> dict:
    r = run_workload(name, "probe", False, timeout, 0)
    if r.get("not_installed"):
        return {"status": "not installed", "error": r.get("error")}
    if not r.get("ok"):
        return {"status": "import failed", "error": r.get("error")}
    return {
        "status": "installed",
        "version": r["metrics"].get("version"),
        "module_file": r["metrics"].get("module_file"),
        "python": r["metrics"].get("python"),
        "python_version": r["metrics"].get("python_version"),
        "numpy": r["metrics"].get("numpy"),
        "init_kwargs": r.get("init_kwargs"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--backends",
        default=",".join(DEFAULT_BACKENDS),
        help="comma-separated backends (default: rayground,ray)",
    )
    p.add_argument(
        "--quick", action="store_true", help="smaller sizes and fewer repetitions (smoke test)"
    )
    p.add_argument("--out", default="docs/benchmarks.md", help="markdown output")
    p.add_argument("--json", default="bench/results/latest.json", help="JSON output")
    p.add_argument(
        "--workloads",
        default="",
        help="comma-separated subset of: " + ", ".join(W.BACKEND_WORKLOADS),
    )
    p.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the multiprocessing and NumPy reference points",
    )
    p.add_argument("--timeout", type=float, default=300, help="seconds per workload")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="wait up to this long before each workload for other processes to go "
        "quiet (0: do not wait)",
    )
    p.add_argument(
        "--tries",
        type=int,
        default=3,
        help="run a disturbed workload up to this many times in all and keep the least "
        "disturbed run (default 3)",
    )
    p.add_argument(
        "--interference",
        type=float,
        default=0.2,
        help="cores that other processes may use on average during a workload before it counts "
        "as disturbed (default 0.2)",
    )
    p.add_argument(
        "--render",
        metavar="JSON",
        default="",
        help="run nothing: write the markdown (--out) again from an earlier results JSON",
    )
    p.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="BACKEND=PYTHON",
        help="run a backend's workloads with another interpreter, e.g. "
        "ray=/path/to/clean-venv/bin/python (Ray in an environment of its own); repeatable",
    )
    p.add_argument(
        "--compare",
        default="",
        help="earlier results JSON to take any backend not run now from (marked as "
        "such in the table)",
    )
    args = p.parse_args(argv)
    # relative paths are relative to the repository root, wherever the command is run from
    out_path, json_path = REPO / args.out, REPO / args.json

    if args.render:
        earlier = json.loads((REPO / args.render).read_text())
        earlier["rows"] = build_rows(earlier)
        write_markdown(earlier, out_path)
        print(f"wrote {args.out} from {args.render}", file=sys.stderr)
        return 0

    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    selected = [w.strip() for w in args.workloads.split(",") if w.strip()] or W.BACKEND_WORKLOADS
    unknown = [w for w in selected if w not in W.BACKEND_WORKLOADS]
    if unknown:
        p.error(f"unknown workloads: {', '.join(unknown)}")
    for spec in args.python:
        backend, _, exe = spec.partition("=")
        if not exe or not os.access(exe, os.X_OK):
            p.error(f"--python {spec}: expected BACKEND=PATH to an executable python")
        INTERPRETERS[backend.strip()] = exe
    subreaper = become_subreaper()
    compiled = "rayground" in names and compile_checkout()

    results: dict = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(
            ["python", "bench/run.py", *sys.argv[1:]]
            if argv is None
            else ["python", "bench/run.py", *argv]
        ),
        "quick": args.quick,
        "machine": machine(),
        "git": git_commit(),
        "json_path": args.json,
        "runner_python": sys.executable,
        "subreaper": subreaper,
        "rayground_bytecode_compiled": compiled,
        "backends": {},
        "reference": {},
    }

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    for name in names:
        info = probe_backend(name, args.timeout)
        info["workloads"] = {}
        results["backends"][name] = info
        log(f"[{name}] {info['status']} {info.get('version') or ''} {info.get('error') or ''}")
    # Workload by workload, each backend in turn: the machine's speed drifts over minutes (other
    # tenants of the host), and a drift between two blocks of workloads would skew every ratio.
    for workload in selected:
        for name in names:
            info = results["backends"][name]
            if info["status"] == "not installed":
                continue
            if info["status"] == "import failed":
                info["workloads"][workload] = {"ok": False, "error": info["error"]}
                continue
            timeout = args.timeout * (2 if workload == "startup" else 1)
            log(f"[{name}] {workload} ...")
            r = run_with_retries(name, workload, args, timeout, log)
            info["workloads"][workload] = r
            if r.get("init_kwargs"):
                info["init_kwargs"] = r["init_kwargs"]
            log(f"[{name}] {workload}: {status_line(r)}")
            write_json(results, json_path)  # keep what we have if the run is cut short

    if not args.no_reference:
        for workload in W.REFERENCE_WORKLOADS:
            log(f"[reference] {workload} ...")
            r = run_with_retries("reference", workload, args, args.timeout, log)
            results["reference"][workload] = r
            log(f"[reference] {workload}: {status_line(r)}")

    if args.compare:
        earlier = json.loads((REPO / args.compare).read_text())
        for name, b in earlier.get("backends", {}).items():
            if name not in results["backends"]:
                results["backends"][name] = {
                    **b,
                    "from_file": args.compare,
                    "date": earlier.get("date"),
                }
        if not results["reference"] and earlier.get("reference"):
            results["reference"] = earlier["reference"]

    results["rows"] = build_rows(results)
    write_json(results, json_path)
    write_markdown(results, out_path)
    log(f"wrote {args.out} and {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
