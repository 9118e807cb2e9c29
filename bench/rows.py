"""What the benchmark table shows: its rows, the targets they are held to, and how a metric is read
out of a workload's result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import harness as H

# --------------------------------------------------------------------------------------------------
# What the table shows

SUBJECT = "rayground"  # the backend the targets are about
BASELINE = "ray"  # the backend it is compared with


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
    Row("First `put` of a {size} array, fresh cluster (bandwidth)", "cold_objects",
        ("100MB", "first_put_bandwidth"), "B/s", True,
        [Ratio(1), RefFraction(0.6, NUMPY_100MB[0], NUMPY_100MB[1], NUMPY_100MB[2])]),
    Row("First `put` of a {size} array, fresh cluster (bandwidth)", "cold_objects",
        ("large", "first_put_bandwidth"), "B/s", True,
        [Ratio(1), RefFraction(0.6, NUMPY_LARGE[0], NUMPY_LARGE[1], NUMPY_LARGE[2])]),
    Row("First `get` of that {size} array in the driver that put it", "cold_objects",
        ("large", "get_driver"), "s", False, [AbsMax(1e-3)]),
    Row("First `get` of that {size} array in a task", "cold_objects", ("large", "get_task"), "s",
        False, [AbsMax(1e-3)]),
    Row("First `get` of that {size} array in an actor", "cold_objects", ("large", "get_actor"),
        "s", False, [AbsMax(1e-3)]),
    Row("First `get` in the driver of a task's {size} result", "cold_objects",
        ("large", "get_driver_of_task_result"), "s", False, [AbsMax(1e-3)]),
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
        return f"{v / H.MB:,.0f} MB"
    if unit == "B/s":
        return f"{v / H.GB:.2f} GB/s"
    if unit == "count":
        return f"{v:g}"
    return f"{v:.4g} {unit}"


def fmt_size(nbytes) -> str:
    if nbytes is None:
        return "?"
    if nbytes >= H.GB:
        return f"{nbytes / H.GB:.3g} GB"
    return f"{nbytes / H.MB:.3g} MB"


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
