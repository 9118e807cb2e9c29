"""Splitting a dataset into materialized parts: `split`, `split_at_indices`,
`split_proportionately` and `train_test_split` (plain, shuffled, or stratified by a column).

A mixin of `Dataset`: each method runs the plan once, then hands out slices of its blocks
(`all_to_all.split_bundles*` cut a block in two with a task only where a boundary falls inside
it). A stratified split flags each group's rows on the cluster (a `map_groups` task per group
partition), so the classes keep their proportions in both parts, as Ray's does.
"""

from __future__ import annotations

import builtins
import hashlib
import itertools
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from . import all_to_all
from . import plan as lp
from .expressions import col
from .plan import RefBundle
from .transform import MapSpec

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .dataset import Dataset, MaterializedDataset

# The column that marks a row's side in a stratified split (Ray's name; dropped before return).
_TRAIN_TEST_SPLIT_COLUMN = "__ray_train_test_split_is_train__"


def flag_train_rows(group: pa.Table, test_size: float) -> pa.Table:
    """One group's rows, the first n - int(n * test_size) flagged as train (as Ray does)."""
    n = group.num_rows
    test = int(n * test_size)
    flags = np.array([True] * (n - test) + [False] * test, dtype=bool)
    return group.append_column(_TRAIN_TEST_SPLIT_COLUMN, pa.array(flags))


class SplitMixin:
    """The splitting methods of `Dataset`."""

    if TYPE_CHECKING:

        def _bundles(self) -> Iterator[RefBundle]: ...
        def _parts(self, parts: list[list[RefBundle]]) -> list[MaterializedDataset]: ...
        def random_shuffle(self, *, seed: int | None = None) -> Dataset: ...
        def groupby(self, key: Any) -> Any: ...
        def count(self) -> int: ...
        def map_batches(self, fn: Any, **kwargs: Any) -> Dataset: ...
        def _then(self, op: lp.LogicalOp) -> Dataset: ...

        _op: lp.LogicalOp

    def split(
        self, n: int, *, equal: bool = False, locality_hints: Any = None
    ) -> list[MaterializedDataset]:
        """`n` materialized parts of about equal size (exactly equal with `equal=True`)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"split(n) needs an int n >= 1, got {n!r}")
        return self._parts(all_to_all.split_bundles(list(self._bundles()), n, equal))

    def split_at_indices(self, indices: list[int]) -> list[MaterializedDataset]:
        """Parts cut before each row index: [0, i0), [i0, i1), ..., [ik, end)."""
        if any(b < a for a, b in itertools.pairwise(indices)) or any(i < 0 for i in indices):
            raise ValueError(f"split_at_indices() needs sorted non-negative indices, got {indices}")
        return self._parts(all_to_all.split_bundles_at(list(self._bundles()), indices))

    def split_proportionately(self, proportions: list[float]) -> list[MaterializedDataset]:
        """Parts of the given fractions of the rows, and one more part with the rest."""
        if not proportions or any(p <= 0 for p in proportions) or builtins.sum(proportions) >= 1:
            raise ValueError(
                "split_proportionately() needs proportions > 0 that sum to less than 1, got "
                f"{proportions}"
            )
        bundles = list(self._bundles())
        total = builtins.sum(b.meta.num_rows for b in bundles)
        indices, acc = [], 0.0
        for p in proportions:
            acc += p
            indices.append(int(total * acc))
        return self._parts(all_to_all.split_bundles_at(bundles, indices))

    def train_test_split(
        self,
        test_size: int | float,
        *,
        shuffle: bool = False,
        seed: int | None = None,
        stratify: str | None = None,
    ) -> tuple[MaterializedDataset, MaterializedDataset]:
        """(train, test): `test_size` rows (an int) or that fraction of them (a float) go to
        test, the last rows unless `shuffle`; with `stratify="label"`, that fraction of each
        label's rows, so both parts keep the labels' proportions."""
        if shuffle and stratify is not None:
            raise ValueError(
                "Cannot specify both 'shuffle=True' and 'stratify' parameters. Stratified "
                "splitting maintains class proportions and is incompatible with shuffling."
            )
        if isinstance(test_size, bool) or not isinstance(test_size, int | float):
            raise TypeError(f"`test_size` must be int or float got {type(test_size)}.")
        ds: Any = self.random_shuffle(seed=seed) if shuffle else self
        if isinstance(test_size, float):
            _check_fraction(test_size)
            if stratify is not None:
                return _stratified(ds, test_size, stratify)
            train, test = ds.split_proportionately([1 - test_size])
            return train, test
        if stratify is not None:
            total = ds.count()
            _check_rows(test_size, total)
            return _stratified(ds, test_size / total, stratify)
        bundles = list(ds._bundles())
        total = builtins.sum(b.meta.num_rows for b in bundles)
        _check_rows(test_size, total)
        train, test = self._parts(all_to_all.split_bundles_at(bundles, [total - test_size]))
        return train, test

    def streaming_train_test_split(
        self,
        test_size: float,
        *,
        split_type: str = "random",
        hash_column: str | None = None,
        seed: int | None = None,
        **ray_remote_kwargs: Any,
    ) -> tuple[Dataset, Dataset]:
        """(train, test) as two lazy datasets, nothing materialized: each row goes to test with
        probability `test_size` ("random", reproducible with `seed`), or by a hash of its
        `hash_column` value ("hash": the same key always lands on the same side, and on the
        same side as in Ray Data, which hashes the same way)."""
        if not isinstance(test_size, int | float) or not 0 < test_size < 1:
            raise ValueError(f"test_size must be between 0 and 1, got {test_size!r}.")
        if seed is not None and split_type == "hash":
            raise ValueError("seed is not supported for hash split")
        if hash_column is not None and split_type == "random":
            raise ValueError("hash_column is not supported for random split")
        if split_type == "random":
            spec = MapSpec(
                kind="split_flag",
                name="MapBatches(random_split)",
                fn=(float(test_size), seed, _TRAIN_TEST_SPLIT_COLUMN),
            )
            args = {k: v for k, v in ray_remote_kwargs.items() if v is not None}
            flagged = self._then(lp.MapOp(self._op, spec, args))
        elif split_type == "hash":
            if hash_column is None:
                raise ValueError("hash_column is required for hash split")
            flagged = self.map_batches(
                hash_split,
                fn_args=(hash_column, float(test_size)),
                batch_format="pyarrow",
                **ray_remote_kwargs,
            )
        else:
            raise ValueError(f"Invalid split type: {split_type!r} (use 'random' or 'hash')")
        is_train = col(_TRAIN_TEST_SPLIT_COLUMN)
        train = flagged.filter(expr=is_train).drop_columns([_TRAIN_TEST_SPLIT_COLUMN])
        test = flagged.filter(expr=~is_train).drop_columns([_TRAIN_TEST_SPLIT_COLUMN])
        return train, test


def hash_split(batch: pa.Table, hash_column: str, test_size: float) -> pa.Table:
    """Flag a row train when the 64-bit BLAKE2b hash of str(key) falls below (1 - test_size)
    of the range: Ray's rule, so both backends put the same keys on the same side."""
    if batch.num_rows == 0 and not batch.column_names:
        return batch  # an empty block with no schema
    if hash_column not in batch.column_names:
        raise ValueError(
            f"streaming_train_test_split(hash_column={hash_column!r}): no such column; the "
            f"dataset's columns are {batch.column_names}."
        )
    bound = (1 - test_size) * (1 << 64)
    flags = [
        int.from_bytes(hashlib.blake2b(str(key).encode(), digest_size=8).digest(), "big") < bound
        for key in batch[hash_column].to_numpy(zero_copy_only=False)
    ]
    return batch.append_column(_TRAIN_TEST_SPLIT_COLUMN, pa.array(flags, pa.bool_()))


def _check_fraction(test_size: float) -> None:
    if not 0 < test_size < 1:
        raise ValueError(
            "If `test_size` is a float, it must be bigger than 0 and smaller than 1. "
            f"Got {test_size}."
        )


def _check_rows(test_size: int, total: int) -> None:
    if not 0 < test_size < total:
        raise ValueError(
            "If `test_size` is an int, it must be bigger than 0 and smaller than the size of "
            f"the dataset ({total}). Got {test_size}."
        )


def _stratified(
    ds: Any, test_size: float, stratify: str
) -> tuple[MaterializedDataset, MaterializedDataset]:
    columns = ds.columns() or []
    if stratify not in columns:
        raise ValueError(
            f"train_test_split(stratify={stratify!r}): no such column; the dataset's columns "
            f"are {columns}."
        )
    flagged = (
        ds.groupby(stratify)
        .map_groups(flag_train_rows, fn_args=(test_size,), batch_format="pyarrow")
        .materialize()
    )
    is_train = col(_TRAIN_TEST_SPLIT_COLUMN)
    train = flagged.filter(expr=is_train).drop_columns([_TRAIN_TEST_SPLIT_COLUMN])
    test = flagged.filter(expr=~is_train).drop_columns([_TRAIN_TEST_SPLIT_COLUMN])
    return train.materialize(), test.materialize()
