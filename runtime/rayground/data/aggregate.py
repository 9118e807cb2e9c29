"""Aggregations: `AggregateFn` (Ray's init/accumulate/merge/finalize contract) and the built-ins
Count, Sum, Min, Max, Mean, Std, named as Ray names their output columns (`sum(x)`, `count()`).

A global aggregate runs one task per block (partial accumulators, small) and merges them on the
driver; a grouped aggregate runs in the reduce tasks of the groupby shuffle (see grouped.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import rayground

from . import block as blocks


class AggregateFn:
    """init(key) -> acc; accumulate_row(acc, row) or accumulate_block(acc, block) -> acc;
    merge(acc, acc) -> acc; finalize(acc) -> value. `name` is the output column."""

    def __init__(
        self,
        init: Callable[[Any], Any],
        merge: Callable[[Any, Any], Any],
        accumulate_row: Callable[[Any, dict], Any] | None = None,
        accumulate_block: Callable[[Any, pa.Table], Any] | None = None,
        finalize: Callable[[Any], Any] | None = None,
        name: str | None = None,
    ) -> None:
        if (accumulate_row is None) == (accumulate_block is None):
            raise ValueError("AggregateFn needs exactly one of accumulate_row or accumulate_block")
        if name is None:
            raise ValueError("AggregateFn needs a name= for its output column")
        self.init = init
        self.merge = merge
        self.accumulate_row = accumulate_row
        self._accumulate_block = accumulate_block
        self.finalize = finalize or (lambda a: a)
        self.name = name

    def accumulate_block(self, acc: Any, block: pa.Table) -> Any:
        if self._accumulate_block is not None:
            return self._accumulate_block(acc, block)
        assert self.accumulate_row is not None
        for row in blocks.to_rows(block):
            acc = self.accumulate_row(acc, row)
        return acc

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _column(block: pa.Table, on: str) -> pa.ChunkedArray:
    if on not in block.column_names:
        raise ValueError(
            f"there is no column {on!r} to aggregate; the columns are {block.column_names}"
        )
    return block.column(on)


def _scalar(value: pa.Scalar) -> Any:
    return value.as_py()


class _ColumnAgg(AggregateFn):
    label = ""

    def __init__(self, on: str | None, ignore_nulls: bool, alias_name: str | None) -> None:
        self.on = on
        self.ignore_nulls = ignore_nulls
        self.name = alias_name or f"{self.label}({on or ''})"
        self.accumulate_row = None
        self.finalize = self._finalize

    def _finalize(self, acc: Any) -> Any:
        return acc


class Count(_ColumnAgg):
    label = "count"

    def __init__(
        self, on: str | None = None, ignore_nulls: bool = False, alias_name: str | None = None
    ) -> None:
        super().__init__(on, ignore_nulls, alias_name)

    def init(self, key: Any) -> int:
        return 0

    def accumulate_block(self, acc: int, block: pa.Table) -> int:
        if self.on is None:
            return acc + block.num_rows
        col = _column(block, self.on)
        return acc + (len(col) - col.null_count if self.ignore_nulls else len(col))

    def merge(self, a: int, b: int) -> int:
        return a + b


class _Reduce(_ColumnAgg):
    """Sum/Min/Max: None while no value has been seen."""

    kernel = ""

    def __init__(self, on: str, ignore_nulls: bool = True, alias_name: str | None = None) -> None:
        super().__init__(on, ignore_nulls, alias_name)

    def init(self, key: Any) -> Any:
        return None

    def combine(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def accumulate_block(self, acc: Any, block: pa.Table) -> Any:
        col = _column(block, self.on)  # type: ignore[arg-type]
        if len(col) == col.null_count:
            return acc
        value = _scalar(getattr(pc, self.kernel)(col))
        return self.merge(acc, value)

    def merge(self, a: Any, b: Any) -> Any:
        if a is None:
            return b
        if b is None:
            return a
        return self.combine(a, b)


class Sum(_Reduce):
    label, kernel = "sum", "sum"

    def combine(self, a: Any, b: Any) -> Any:
        return a + b


class Min(_Reduce):
    label, kernel = "min", "min"

    def combine(self, a: Any, b: Any) -> Any:
        return min(a, b)


class Max(_Reduce):
    label, kernel = "max", "max"

    def combine(self, a: Any, b: Any) -> Any:
        return max(a, b)


class Mean(_ColumnAgg):
    label = "mean"

    def __init__(self, on: str, ignore_nulls: bool = True, alias_name: str | None = None) -> None:
        super().__init__(on, ignore_nulls, alias_name)

    def init(self, key: Any) -> list:
        return [0.0, 0]

    def accumulate_block(self, acc: list, block: pa.Table) -> list:
        col = _column(block, self.on)  # type: ignore[arg-type]
        n = len(col) - col.null_count
        if n == 0:
            return acc
        return [acc[0] + _scalar(pc.sum(col)), acc[1] + n]

    def merge(self, a: list, b: list) -> list:
        return [a[0] + b[0], a[1] + b[1]]

    def _finalize(self, acc: list) -> Any:
        return acc[0] / acc[1] if acc[1] else None


class Std(_ColumnAgg):
    """Sample standard deviation (ddof=1 by default), merged with Chan et al.'s parallel update."""

    label = "std"

    def __init__(
        self, on: str, ddof: int = 1, ignore_nulls: bool = True, alias_name: str | None = None
    ) -> None:
        super().__init__(on, ignore_nulls, alias_name)
        self.ddof = ddof

    def init(self, key: Any) -> list:
        return [0, 0.0, 0.0]  # count, mean, sum of squared deviations

    def accumulate_block(self, acc: list, block: pa.Table) -> list:
        col = _column(block, self.on)  # type: ignore[arg-type]
        values = np.asarray(col.drop_null().to_numpy(zero_copy_only=False), dtype=np.float64)
        if values.size == 0:
            return acc
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        return self.merge(acc, [values.size, mean, m2])

    def merge(self, a: list, b: list) -> list:
        if a[0] == 0:
            return b
        if b[0] == 0:
            return a
        n = a[0] + b[0]
        delta = b[1] - a[1]
        mean = a[1] + delta * b[0] / n
        m2 = a[2] + b[2] + delta * delta * a[0] * b[0] / n
        return [n, mean, m2]

    def _finalize(self, acc: list) -> Any:
        if acc[0] == 0:
            return None
        if acc[0] - self.ddof <= 0:
            return 0.0
        return math.sqrt(acc[2] / (acc[0] - self.ddof))


def partial_aggregate(block: pa.Table, aggs: list[AggregateFn]) -> tuple[int, list[Any]]:
    """One block's accumulators (runs as a task)."""
    return block.num_rows, [a.accumulate_block(a.init(None), block) for a in aggs]


_partial_task = rayground.remote(partial_aggregate)


def aggregate_blocks(refs: list[Any], aggs: list[AggregateFn]) -> dict[str, Any] | None:
    """Accumulate every block on the cluster, merge on the driver; None for an empty dataset."""
    if not aggs:
        raise ValueError("aggregate() needs at least one AggregateFn (Count(), Sum('x'), ...)")
    names = [a.name for a in aggs]
    if len(set(names)) != len(names):
        raise ValueError(f"aggregate(): two aggregations produce the same column name: {names}")
    parts = rayground.get([_partial_task.options(name="Aggregate").remote(r, aggs) for r in refs])
    rows = sum(n for n, _ in parts)
    if rows == 0:
        return None
    accs = [a.init(None) for a in aggs]
    for _, partial in parts:
        accs = [a.merge(x, y) for a, x, y in zip(aggs, accs, partial, strict=True)]
    return {a.name: a.finalize(x) for a, x in zip(aggs, accs, strict=True)}


__all__ = ["AggregateFn", "Count", "Max", "Mean", "Min", "Std", "Sum"]
