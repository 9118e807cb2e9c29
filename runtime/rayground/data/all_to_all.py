"""Operators that need every block at once (shuffle, sort, repartition, zip, split) and the small
column operations run as batch steps. The barrier ones are map -> reduce task graphs:

    block 0 ─ map ─┬─ part 0 ─┐
    block 1 ─ map ─┼─ part 0 ─┼─ reduce 0 -> output block 0
                   └─ ...     └─ ...

Map tasks cut each block into one part per output (`num_returns=n`), reduce task j receives part
j of every block as its arguments. Parts travel through the object store; the driver only holds
references and small metadata.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import rayground

from . import block as blocks
from .block import Block, BlockMetadata, metadata_of
from .plan import RefBundle

# ---- column steps (run inside fused map tasks, on pyarrow batches) ------------------------


def add_column(table: pa.Table, col: str, fn: Any, batch_format: str | None) -> pa.Table:
    values = fn(blocks.to_batch(table, batch_format))
    column = blocks.to_arrow_column(values)
    if len(column) != table.num_rows:
        raise ValueError(
            f"add_column({col!r}): the function returned {len(column)} values for a batch of "
            f"{table.num_rows} rows; it must return one value per row."
        )
    if col in table.column_names:
        return table.set_column(table.column_names.index(col), col, column)
    return table.append_column(col, column)


def _missing(caller: str, table: pa.Table, cols: Sequence[str]) -> None:
    if table.num_rows == 0 and not table.column_names:
        return  # an empty block with no schema (e.g. a group partition no key hashed to)
    missing = [c for c in cols if c not in table.column_names]
    if missing:
        raise ValueError(
            f"{caller}(): no column(s) {missing} in the dataset; its columns are "
            f"{table.column_names}."
        )


def drop_columns(table: pa.Table, cols: list[str]) -> pa.Table:
    _missing("drop_columns", table, cols)
    return table.drop_columns(cols) if table.column_names else table


def select_columns(table: pa.Table, cols: list[str]) -> pa.Table:
    _missing("select_columns", table, cols)
    return table.select(cols) if table.column_names else table


def rename_columns(table: pa.Table, names: list[str] | dict[str, str]) -> pa.Table:
    if isinstance(names, dict):
        _missing("rename_columns", table, list(names))
        return table.rename_columns([names.get(n, n) for n in table.column_names])
    if not table.column_names:
        return table
    if len(names) != table.num_columns:
        raise ValueError(
            f"rename_columns() got {len(names)} names for {table.num_columns} columns "
            f"{table.column_names}."
        )
    return table.rename_columns(list(names))


# ---- conversions ----------------------------------------------------------------------


def block_to_numpy(table: pa.Table, column: str | None) -> Any:
    if column is not None:
        _missing("to_numpy_refs", table, [column])
        return blocks.column_to_numpy(table.column(column))
    return blocks.to_batch(table, "numpy")


def block_to_pandas(table: pa.Table) -> Any:
    return blocks.to_batch(table, "pandas")


# ---- tasks ---------------------------------------------------------------------------


def _parts(table: pa.Table, assignment: np.ndarray, n: int) -> tuple[pa.Table, ...] | pa.Table:
    order = np.argsort(assignment, kind="stable")
    counts = np.bincount(assignment, minlength=n)
    ordered = table.take(pa.array(order)) if table.num_rows else table
    out = []
    start = 0
    for c in counts:
        out.append(ordered.slice(start, int(c)))
        start += int(c)
    return tuple(out) if n > 1 else out[0]


def shuffle_map(table: pa.Table, n: int, seed: int | None, index: int):
    rng = np.random.default_rng(None if seed is None else [seed, index])
    return _parts(table, rng.integers(0, n, table.num_rows), n)


def shuffle_reduce(seed: int | None, index: int, *parts: pa.Table) -> tuple[Block, BlockMetadata]:
    table = blocks.concat(parts)
    rng = np.random.default_rng(None if seed is None else [seed, 1_000_003 + index])
    out = table.take(pa.array(rng.permutation(table.num_rows))) if table.num_rows else table
    return out, metadata_of(out)


def sample_keys(table: pa.Table, key: str, k: int) -> list[Any]:
    if key not in table.column_names:
        raise ValueError(
            f"sort/groupby key {key!r} is not a column; the columns are {table.column_names}"
        )
    col = table.column(key).drop_null()
    if len(col) == 0:
        return []
    idx = np.linspace(0, len(col) - 1, min(k, len(col))).astype(int)
    return col.take(pa.array(idx)).to_pylist()


def range_partition(table: pa.Table, key: str, boundaries: list[Any], descending: bool):
    """Part j holds the rows whose key lies in [boundaries[j-1], boundaries[j]); nulls go last."""
    n = len(boundaries) + 1
    col = table.column(key)
    if col.null_count == 0 and (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        values = col.to_numpy()
        assignment = np.searchsorted(np.asarray(boundaries), values, side="right").astype(np.int64)
        nulls = np.zeros(len(values), dtype=bool)
    else:
        py = col.to_pylist()
        nulls = np.array([v is None for v in py], dtype=bool)
        assignment = np.array(
            [0 if v is None else bisect.bisect_right(boundaries, v) for v in py], dtype=np.int64
        )
    if descending:
        assignment = n - 1 - assignment
    assignment[nulls] = n - 1
    return _parts(table, assignment, n)


def sort_table(table: pa.Table, keys: list[str], descending: list[bool]) -> pa.Table:
    if table.num_rows == 0:
        return table
    order = [(k, "descending" if d else "ascending") for k, d in zip(keys, descending, strict=True)]
    return table.sort_by(order)


def sort_reduce(
    keys: list[str], descending: list[bool], *parts: pa.Table
) -> tuple[Block, BlockMetadata]:
    out = sort_table(blocks.concat(parts), keys, descending)
    return out, metadata_of(out)


def concat_slices(
    layout: list[tuple[int, int, int]], *inputs: pa.Table
) -> tuple[Block, BlockMetadata]:
    """Output block = concatenation of (input number, start, length) slices."""
    out = blocks.concat([inputs[i].slice(s, n) for i, s, n in layout])
    return out, metadata_of(out)


def zip_tables(
    left: pa.Table, layouts: list[list[tuple[int, int, int]]], *inputs: pa.Table
) -> tuple[Block, BlockMetadata]:
    out = left
    for k, layout in enumerate(layouts, start=1):
        right = blocks.concat([inputs[i].slice(s, n) for i, s, n in layout])
        for name in right.column_names:
            target = name if name not in out.column_names else f"{name}_{k}"
            out = out.append_column(target, right.column(name))
    return out, metadata_of(out)


def unique_of(table: pa.Table, column: str) -> list[Any]:
    if column not in table.column_names:
        raise ValueError(
            f"unique({column!r}): no such column; the columns are {table.column_names}"
        )
    return pc.unique(table.column(column)).to_pylist()


_shuffle_map = rayground.remote(shuffle_map)
_shuffle_reduce = rayground.remote(shuffle_reduce)
_sample_keys = rayground.remote(sample_keys)
_range_partition = rayground.remote(range_partition)
_sort_reduce = rayground.remote(sort_reduce)
_concat_slices = rayground.remote(concat_slices)
_zip_tables = rayground.remote(zip_tables)
_unique_of = rayground.remote(unique_of)


def _as_list(refs: Any, n: int) -> list[Any]:
    return list(refs) if n > 1 else [refs]


def _bundles(pairs: list[tuple[Any, Any]]) -> list[RefBundle]:
    metas = rayground.get([m for _, m in pairs])
    return [RefBundle(b, m) for (b, _), m in zip(pairs, metas, strict=True)]


# ---- barrier operators ---------------------------------------------------------------


@dataclass
class BlockOrder:
    """randomize_block_order: the blocks as they are, in a random order (on the driver)."""

    seed: int | None

    def __call__(self, gathered: list[list[RefBundle]]) -> list[RefBundle]:
        bundles = list(gathered[0])
        order = np.random.default_rng(self.seed).permutation(len(bundles))
        return [bundles[i] for i in order]


@dataclass
class Shuffle:
    seed: int | None
    num_blocks: int | None

    def __call__(self, gathered: list[list[RefBundle]]) -> list[RefBundle]:
        inputs = gathered[0]
        n = self.num_blocks or max(1, len(inputs))
        if not inputs:
            return []
        parts = [
            _as_list(
                _shuffle_map.options(name="RandomShuffleMap", num_returns=n).remote(
                    b.block_ref, n, self.seed, i
                ),
                n,
            )
            for i, b in enumerate(inputs)
        ]
        pairs = [
            _shuffle_reduce.options(name="RandomShuffleReduce", num_returns=2).remote(
                self.seed, j, *[p[j] for p in parts]
            )
            for j in range(n)
        ]
        return _bundles(pairs)


def partition_by_key(
    inputs: list[RefBundle], key: str, descending: bool, n: int, name: str
) -> list[list[Any]]:
    """Range-partition every block on `key` into n parts: part j of each block, for each j."""
    samples = rayground.get(
        [_sample_keys.options(name=f"{name}Sample").remote(b.block_ref, key, 20) for b in inputs]
    )
    pooled = sorted(v for s in samples for v in s)
    boundaries = []
    if pooled and n > 1:
        boundaries = [pooled[int(len(pooled) * j / n)] for j in range(1, n)]
    parts = [
        _as_list(
            _range_partition.options(name=f"{name}Map", num_returns=n).remote(
                b.block_ref, key, boundaries, descending
            ),
            n,
        )
        for b in inputs
    ]
    return [[p[j] for p in parts] for j in range(n)]


@dataclass
class Sort:
    keys: list[str]
    descending: list[bool]

    def __call__(self, gathered: list[list[RefBundle]]) -> list[RefBundle]:
        inputs = gathered[0]
        if not inputs:
            return []
        n = len(inputs)
        columns = partition_by_key(inputs, self.keys[0], self.descending[0], n, "Sort")
        pairs = [
            _sort_reduce.options(name="SortReduce", num_returns=2).remote(
                self.keys, self.descending, *col
            )
            for col in columns
        ]
        return _bundles(pairs)


def _row_ranges(bundles: list[RefBundle], cuts: list[int]) -> list[list[tuple[int, int, int]]]:
    """For each [cuts[j], cuts[j+1]) row range: the (bundle, start, length) slices covering it."""
    offsets = np.cumsum([0] + [b.meta.num_rows for b in bundles])
    out = []
    for lo, hi in itertools.pairwise(cuts):
        layout = []
        for i, _b in enumerate(bundles):
            s, e = max(lo, offsets[i]), min(hi, offsets[i + 1])
            if e > s:
                layout.append((i, int(s - offsets[i]), int(e - s)))
        out.append(layout)
    return out


def _materialize_ranges(bundles: list[RefBundle], cuts: list[int], name: str) -> list[RefBundle]:
    results = []
    for layout in _row_ranges(bundles, cuts):
        if (
            len(layout) == 1
            and layout[0][1] == 0
            and layout[0][2] == bundles[layout[0][0]].meta.num_rows
        ):
            results.append(bundles[layout[0][0]])  # a whole block: reuse it, no task
            continue
        used = sorted({i for i, _, _ in layout})
        local = [(used.index(i), s, n) for i, s, n in layout]
        block_ref, meta_ref = _concat_slices.options(name=name, num_returns=2).remote(
            local, *[bundles[i].block_ref for i in used]
        )
        results.append(RefBundle(block_ref, rayground.get(meta_ref)))
    return results


@dataclass
class Repartition:
    num_blocks: int | None
    target_rows: int | None

    def __call__(self, gathered: list[list[RefBundle]]) -> list[RefBundle]:
        inputs = gathered[0]
        total = sum(b.meta.num_rows for b in inputs)
        if self.num_blocks is not None:
            n = self.num_blocks
            cuts = [int(x) for x in np.linspace(0, total, n + 1)]
        else:
            assert self.target_rows is not None
            cuts = [*list(range(0, total, self.target_rows)), total]
        return _materialize_ranges(inputs, cuts, "Repartition")


def split_bundles_at(bundles: list[RefBundle], indices: list[int]) -> list[list[RefBundle]]:
    total = sum(b.meta.num_rows for b in bundles)
    cuts = [0, *[min(i, total) for i in indices], total]
    out = []
    for lo, hi in itertools.pairwise(cuts):
        out.append(_materialize_ranges(bundles, [lo, hi], "Split") if hi > lo else [])
    return out


def split_bundles(bundles: list[RefBundle], n: int, equal: bool) -> list[list[RefBundle]]:
    total = sum(b.meta.num_rows for b in bundles)
    if equal:
        per = total // n
        return split_bundles_at(bundles, [per * j for j in range(1, n + 1)])[:n]
    return split_bundles_at(bundles, [int(x) for x in np.linspace(0, total, n + 1)[1:-1]])


def zip_bundles(gathered: list[list[RefBundle]]) -> list[RefBundle]:
    left, others = gathered[0], gathered[1:]
    counts = [sum(b.meta.num_rows for b in side) for side in gathered]
    if len(set(counts)) != 1:
        raise ValueError(
            f"Cannot zip datasets of different number of rows: {counts}. Zip pairs row i of each "
            "dataset; make them the same length first (limit(), or fix the pipeline)."
        )
    offsets = np.cumsum([0] + [b.meta.num_rows for b in left])
    pairs = []
    for i, b in enumerate(left):
        cut = [int(offsets[i]), int(offsets[i + 1])]
        layouts, refs = [], []
        for side in others:
            layout = _row_ranges(side, cut)[0]
            used = sorted({j for j, _, _ in layout})
            layouts.append([(len(refs) + used.index(j), s, n) for j, s, n in layout])
            refs.extend(side[j].block_ref for j in used)
        pairs.append(
            _zip_tables.options(name="Zip", num_returns=2).remote(b.block_ref, layouts, *refs)
        )
    return _bundles(pairs)


def unique_values(refs: list[Any], column: str, ignore_nulls: bool) -> list[Any]:
    seen: dict[Any, None] = {}
    for values in rayground.get(
        [_unique_of.options(name="Unique").remote(r, column) for r in refs]
    ):
        for v in values:
            if v is None and ignore_nulls:
                continue
            seen.setdefault(v, None)
    return list(seen)
