"""Per-operator statistics of the last execution, printed by `Dataset.stats()` in Ray's layout:

Operator 1 ReadRange->MapBatches(f): 4 tasks executed, 4 blocks produced in 0.12s
* Remote wall time: 1.2ms min, 3.4ms max, 2.1ms mean, 8.4ms total
...
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .block import BlockMetadata


@dataclass
class OpStats:
    name: str
    tasks: int = 0
    actors: int = 0
    blocks: int = 0
    rows: int = 0
    bytes: int = 0
    wall_times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    rows_per_block: list[int] = field(default_factory=list)
    bytes_per_block: list[int] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    wall_extra: float = 0.0

    def record(self, meta: BlockMetadata) -> None:
        self.blocks += 1
        self.rows += meta.num_rows
        self.bytes += meta.size_bytes
        self.rows_per_block.append(meta.num_rows)
        self.bytes_per_block.append(meta.size_bytes)
        if meta.wall_s:
            self.wall_times.append(meta.wall_s)
            self.cpu_times.append(meta.cpu_s)
        self.finished = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return ((self.finished or time.perf_counter()) - self.started) + 0.0

    def summary(self, number: int) -> str:
        head = (
            f"Operator {number} {self.name}: {self.tasks} tasks executed, {self.blocks} blocks "
            f"produced in {self.elapsed:.2f}s"
        )
        lines = [head]
        if self.actors:
            lines.append(f"* Actors started: {self.actors}")
        if self.wall_times:
            lines.append("* Remote wall time: " + _spread(self.wall_times, _ms))
            lines.append("* Remote cpu time: " + _spread(self.cpu_times, _ms))
        if self.rows_per_block:
            lines.append("* Output num rows per block: " + _spread(self.rows_per_block, str))
            lines.append("* Output size bytes per block: " + _spread(self.bytes_per_block, str))
        rate = self.rows / self.elapsed if self.elapsed > 0 else 0.0
        lines.append(
            f"* Operator throughput: {self.rows} rows in {self.elapsed:.2f}s, {rate:.1f} rows/s"
        )
        return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}ms"


def _spread(values: list, fmt) -> str:
    total = sum(values)
    mean = total / len(values)
    if fmt is str:
        return f"{min(values)} min, {max(values)} max, {mean:.0f} mean, {total} total"
    return f"{fmt(min(values))} min, {fmt(max(values))} max, {fmt(mean)} mean, {fmt(total)} total"


@dataclass
class DatasetStats:
    """The statistics of a dataset's most recent execution."""

    ops: list[OpStats] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    executions: int = 0  # how many times the plan has started (Ray's run index)

    def begin(self, ops: list[OpStats]) -> None:
        self.executions += 1
        self.ops = ops
        self.started = time.perf_counter()
        self.finished = None

    def end(self) -> None:
        self.finished = time.perf_counter()

    def to_summary(self) -> str:
        if not self.ops:
            return "(the dataset has not been executed yet: stats appear after a consuming call)"
        parts = [op.summary(i) for i, op in enumerate(self.ops, start=1)]
        if self.started is not None and self.finished is not None:
            total = self.finished - self.started
            rows = self.ops[-1].rows
            rate = rows / total if total > 0 else 0.0
            parts.append(
                f"Dataset throughput:\n* {rows} rows out in {total:.2f}s, {rate:.1f} rows/s"
            )
        return "\n".join(parts)
