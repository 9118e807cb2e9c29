"""`ds.groupby(key)`: grouped aggregations and `map_groups`, as a range-partitioned shuffle.

Blocks are range-partitioned on the first key (as for sort), so every group lands whole in one
reduce task; each reduce task sorts its part by the keys and walks the groups. The output is
sorted by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

import rayground

from . import aggregate as agg
from . import block as blocks
from . import plan as lp
from .all_to_all import _bundles, partition_by_key, sort_table
from .block import Block, BlockMetadata, metadata_of
from .plan import RefBundle
from .transform import MapSpec, apply_chain


def group_bounds(table: pa.Table, keys: list[str]) -> list[tuple[int, int]]:
    """(start, end) of each run of equal keys in a table sorted by those keys."""
    n = table.num_rows
    if n == 0:
        return []
    if not keys:
        return [(0, n)]
    change = np.zeros(n - 1, dtype=bool)
    for k in keys:
        values = np.asarray(table.column(k).to_pylist(), dtype=object)
        change |= values[1:] != values[:-1]
    starts = [0, *(np.flatnonzero(change) + 1).tolist()]
    ends = [*starts[1:], n]
    return list(zip(starts, ends, strict=True))


def group_aggregate(
    keys: list[str], aggs: list[agg.AggregateFn], *parts: pa.Table
) -> tuple[Block, BlockMetadata]:
    table = sort_table(blocks.concat(parts), keys, [False] * len(keys))
    rows = []
    for start, end in group_bounds(table, keys):
        group = table.slice(start, end - start)
        row = {k: group.column(k)[0].as_py() for k in keys}
        for a in aggs:
            row[a.name] = a.finalize(a.accumulate_block(a.init(None), group))
        rows.append(row)
    out = blocks.from_rows(rows) if rows else blocks.empty_block()
    return out, metadata_of(out)


def group_map(keys: list[str], spec: MapSpec, *parts: pa.Table) -> tuple[Block, BlockMetadata]:
    table = sort_table(blocks.concat(parts), keys, [False] * len(keys))
    spec = spec.instantiated()
    outputs = [
        apply_chain((spec,), table.slice(start, end - start), i)
        for i, (start, end) in enumerate(group_bounds(table, keys))
    ]
    out = blocks.concat(outputs)
    return out, metadata_of(out)


_group_aggregate = rayground.remote(group_aggregate)
_group_map = rayground.remote(group_map)


@dataclass
class _GroupShuffle:
    keys: list[str]
    num_partitions: int | None
    reduce: Any  # (keys, payload, *parts) remote function
    payload: Any
    name: str

    def __call__(self, gathered: list[list[RefBundle]]) -> list[RefBundle]:
        inputs = gathered[0]
        if not inputs:
            return []
        n = 1 if not self.keys else (self.num_partitions or len(inputs))
        if self.keys:
            columns = partition_by_key(inputs, self.keys[0], False, n, self.name)
        else:
            columns = [[b.block_ref for b in inputs]]
        pairs = [
            self.reduce.options(name=self.name, num_returns=2).remote(self.keys, self.payload, *col)
            for col in columns
        ]
        return _bundles(pairs)


class GroupedData:
    """The result of `Dataset.groupby(key)`."""

    def __init__(self, dataset: Any, keys: list[str], num_partitions: int | None) -> None:
        self._dataset = dataset
        self._keys = keys
        self._num_partitions = num_partitions

    def _shuffle(self, reduce: Any, payload: Any, name: str) -> Any:
        fn = _GroupShuffle(self._keys, self._num_partitions, reduce, payload, name)
        ds = self._dataset
        return ds._then(lp.AllToAll(name, (ds._op,), fn))

    def aggregate(self, *aggs: agg.AggregateFn) -> Any:
        if not aggs:
            raise ValueError("aggregate() needs at least one AggregateFn (Count(), Sum('x'), ...)")
        return self._shuffle(_group_aggregate, list(aggs), "Aggregate")

    def _each(self, cls: Any, on: Any, **kw: Any) -> Any:
        cols = [on] if isinstance(on, str) else on
        if not cols:
            raise ValueError(f"{cls.__name__.lower()}() needs the column(s) to aggregate: on='x'")
        return self.aggregate(*[cls(c, **kw) for c in cols])

    def count(self) -> Any:
        return self.aggregate(agg.Count())

    def sum(self, on: Any = None, ignore_nulls: bool = True) -> Any:
        return self._each(agg.Sum, on, ignore_nulls=ignore_nulls)

    def min(self, on: Any = None, ignore_nulls: bool = True) -> Any:
        return self._each(agg.Min, on, ignore_nulls=ignore_nulls)

    def max(self, on: Any = None, ignore_nulls: bool = True) -> Any:
        return self._each(agg.Max, on, ignore_nulls=ignore_nulls)

    def mean(self, on: Any = None, ignore_nulls: bool = True) -> Any:
        return self._each(agg.Mean, on, ignore_nulls=ignore_nulls)

    def std(self, on: Any = None, ddof: int = 1, ignore_nulls: bool = True) -> Any:
        return self._each(agg.Std, on, ddof=ddof, ignore_nulls=ignore_nulls)

    def map_groups(
        self,
        fn: Any,
        *,
        compute: Any = None,
        batch_format: str | None = "default",
        fn_args: Any = None,
        fn_kwargs: Any = None,
        fn_constructor_args: Any = None,
        fn_constructor_kwargs: Any = None,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        concurrency: Any = None,
        **ray_remote_args: Any,
    ) -> Any:
        """`fn(batch_of_one_group) -> batch`, once per group."""
        if batch_format not in blocks.BATCH_FORMATS:
            blocks.to_batch(blocks.empty_block(), batch_format)
        if not callable(fn):
            raise TypeError(f"map_groups() expects a function, got {fn!r}")
        spec = MapSpec(
            kind="map_batches",
            name=f"MapGroups({getattr(fn, '__name__', type(fn).__name__)})",
            fn=fn,
            fn_args=tuple(fn_args or ()),
            fn_kwargs=dict(fn_kwargs or {}),
            ctor_args=tuple(fn_constructor_args or ()),
            ctor_kwargs=dict(fn_constructor_kwargs or {}),
            batch_format=batch_format,
            is_class=isinstance(fn, type),
        )
        return self._shuffle(_group_map, spec, "MapGroups")
