"""`Dataset`: Ray Data's Dataset API over a lazy plan (see plan.py) run by the streaming executor.

Transformations return a new Dataset with one more logical operator; nothing runs until a
consuming call (take, count, iter_batches, write_*, materialize, ...). Each execution records
per-operator statistics, shown by `stats()`.
"""

from __future__ import annotations

import builtins
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import rayground

from . import aggregate as agg
from . import all_to_all
from . import block as blocks
from . import expressions as ex
from . import plan as lp
from .compute import (
    compute_strategy,
    fn_name,
    named_remote_args,
    remote_args,
    warn_on_ray_remote_args,
)
from .datasource.save_mode import SaveMode
from .executor import execute
from .iterator import DataIterator, batches_from_bundles
from .plan import RefBundle
from .schema import Schema, column_list
from .split import SplitMixin
from .stats import DatasetStats
from .transform import MapSpec
from .write import write

_REMOTE_ARG_NAMES = ("num_cpus", "num_gpus", "memory", "resources", "accelerator_type")


def _short(text: str) -> str:
    """An operator's name shows at most 60 characters of its expression, as Ray's does."""
    return text if len(text) <= 60 else text[:57] + "..."


def _check_batch_format(batch_format: Any) -> None:
    if batch_format not in blocks.BATCH_FORMATS:
        raise ValueError(
            f"The given batch format {batch_format} isn't allowed (must be one of "
            "['default', 'numpy', 'pandas', 'pyarrow', None])."
        )


def _op_remote_args(
    num_cpus: float | None,
    num_gpus: float | None,
    memory: float | None,
    label_selector: dict[str, str] | None,
    fallback_strategy: list[dict[str, Any]] | None,
    max_calls: int | None,
    resources: dict[str, float] | None,
    accelerator_type: str | None,
    runtime_env: dict[str, Any] | None,
    ray_remote_args_fn: Callable[[], dict[str, Any]] | None,
    ray_remote_args: dict[str, Any],
) -> dict[str, Any]:
    """A map operator's remote options: the named ones, then the extra keywords (Ray's
    deprecated `**ray_remote_args`), then what the deprecated `ray_remote_args_fn` returns
    (called once, when the operator is made); a misspelt name fails here."""
    extra = dict(ray_remote_args)
    if ray_remote_args_fn is not None:
        warnings.warn(
            "`ray_remote_args_fn` is deprecated and will be removed in Ray 2.64.",
            DeprecationWarning,
            stacklevel=3,
        )
        extra.update(ray_remote_args_fn())
    named = named_remote_args(
        num_cpus,
        num_gpus,
        memory,
        label_selector,
        fallback_strategy,
        max_calls,
        resources,
        accelerator_type,
        runtime_env,
    )
    return remote_args(named, extra)


def _input_files(op: lp.LogicalOp) -> set[str]:
    files: set[str] = set()
    if isinstance(op, lp.Read):
        files.update(p for t in op.read_tasks for p in getattr(t, "paths", ()))
    elif isinstance(op, lp.InputData):
        files.update(f for b in op.bundles for f in b.meta.input_files)
    for up in op.inputs:
        files |= _input_files(up)
    return files


class Dataset(SplitMixin):
    """A distributed collection of rows, held as Arrow blocks in the object store."""

    def __init__(self, op: lp.LogicalOp) -> None:
        self._op = op
        self._stats = DatasetStats()
        # Names this dataset's written files, as Ray's dataset uuid does.
        self._uuid = uuid.uuid4().hex

    # ---- plumbing --------------------------------------------------------------------

    def _then(self, op: lp.LogicalOp) -> Dataset:
        return Dataset(op)

    def _bundles(self) -> Iterator[RefBundle]:
        return execute(self._op, self._stats)

    def _parts(self, parts: list[list[RefBundle]]) -> list[MaterializedDataset]:
        return [MaterializedDataset(lp.InputData("Split", part)) for part in parts]

    def _map(
        self,
        kind: str,
        fn: Any,
        *,
        name: str | None = None,
        compute: Any = None,
        fn_args: Any = None,
        fn_kwargs: Any = None,
        fn_constructor_args: Any = None,
        fn_constructor_kwargs: Any = None,
        concurrency: Any = None,
        batch_size: Any = None,
        batch_format: Any = "default",
        remote_args: dict[str, Any] | None = None,
    ) -> Dataset:
        method = {"map": "map", "flat_map": "flat_map", "filter": "filter"}.get(kind, "map_batches")
        if not callable(fn):
            raise TypeError(f"{method}() expects a function or a callable class, got {fn!r}")
        is_class = isinstance(fn, type)
        if not is_class and (fn_constructor_args is not None or fn_constructor_kwargs is not None):
            raise ValueError(
                f"fn_constructor_args and fn_constructor_kwargs can only be given when `fn` is a "
                f"callable class; {fn_name(fn)} is a function."
            )
        strategy = compute_strategy(method, fn, is_class, compute, concurrency)
        if batch_size is not None and batch_size != "default":
            if not isinstance(batch_size, int) or batch_size < 1:
                raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
        else:
            batch_size = None
        prefix = {"map": "Map", "flat_map": "FlatMap", "filter": "Filter"}.get(kind, "MapBatches")
        spec = MapSpec(
            kind=kind,
            name=name or f"{prefix}({fn_name(fn)})",
            fn=fn,
            fn_args=tuple(fn_args or ()),
            fn_kwargs=dict(fn_kwargs or {}),
            ctor_args=tuple(fn_constructor_args or ()),
            ctor_kwargs=dict(fn_constructor_kwargs or {}),
            batch_size=batch_size,
            batch_format=batch_format,
            is_class=is_class,
        )
        args = {k: v for k, v in (remote_args or {}).items() if v is not None}
        if isinstance(strategy, lp.ActorPoolStrategy):
            task_only = sorted(set(args) & {"max_retries", "retry_exceptions", "max_calls"})
            if task_only:
                raise ValueError(
                    f"Invalid option keyword {task_only[0]} for actors: {method}() runs "
                    f"{fn_name(fn)} on a pool of actors, and {', '.join(task_only)} apply to "
                    "tasks only. Drop them (an actor pool restarts failed actors by itself)."
                )
        return self._then(lp.MapOp(self._op, spec, args, strategy))

    # ---- transformations -------------------------------------------------------------

    def map(
        self,
        fn: Any,
        *,
        compute: Any = None,
        fn_args: Any = None,
        fn_kwargs: Any = None,
        fn_constructor_args: Any = None,
        fn_constructor_kwargs: Any = None,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: float | None = None,
        concurrency: Any = None,
        label_selector: dict[str, str] | None = None,
        fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None,
        resources: dict[str, float] | None = None,
        accelerator_type: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        ray_remote_args_fn: Callable[[], dict[str, Any]] | None = None,
        **ray_remote_args: Any,
    ) -> Dataset:
        """One row (a dict) in, one row out."""
        warn_on_ray_remote_args(ray_remote_args)
        return self._map(
            "map",
            fn,
            compute=compute,
            fn_args=fn_args,
            fn_kwargs=fn_kwargs,
            fn_constructor_args=fn_constructor_args,
            fn_constructor_kwargs=fn_constructor_kwargs,
            concurrency=concurrency,
            remote_args=_op_remote_args(
                num_cpus,
                num_gpus,
                memory,
                label_selector,
                fallback_strategy,
                max_calls,
                resources,
                accelerator_type,
                runtime_env,
                ray_remote_args_fn,
                ray_remote_args,
            ),
        )

    def map_batches(
        self,
        fn: Any,
        *,
        batch_size: Any = None,
        compute: Any = None,
        batch_format: str | None = "default",
        zero_copy_batch: bool = True,
        fn_args: Any = None,
        fn_kwargs: Any = None,
        fn_constructor_args: Any = None,
        fn_constructor_kwargs: Any = None,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: float | None = None,
        concurrency: Any = None,
        label_selector: dict[str, str] | None = None,
        fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None,
        resources: dict[str, float] | None = None,
        accelerator_type: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        ray_remote_args_fn: Callable[[], dict[str, Any]] | None = None,
        **ray_remote_args: Any,
    ) -> Dataset:
        """A batch (dict of NumPy arrays, pandas DataFrame or Arrow table) in, a batch out."""
        warn_on_ray_remote_args(ray_remote_args)
        _check_batch_format(batch_format)
        return self._map(
            "map_batches",
            fn,
            compute=compute,
            fn_args=fn_args,
            fn_kwargs=fn_kwargs,
            fn_constructor_args=fn_constructor_args,
            fn_constructor_kwargs=fn_constructor_kwargs,
            concurrency=concurrency,
            batch_size=batch_size,
            batch_format=batch_format,
            remote_args=_op_remote_args(
                num_cpus,
                num_gpus,
                memory,
                label_selector,
                fallback_strategy,
                max_calls,
                resources,
                accelerator_type,
                runtime_env,
                ray_remote_args_fn,
                ray_remote_args,
            ),
        )

    def flat_map(
        self,
        fn: Any,
        *,
        compute: Any = None,
        fn_args: Any = None,
        fn_kwargs: Any = None,
        fn_constructor_args: Any = None,
        fn_constructor_kwargs: Any = None,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: float | None = None,
        concurrency: Any = None,
        label_selector: dict[str, str] | None = None,
        fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None,
        resources: dict[str, float] | None = None,
        accelerator_type: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        ray_remote_args_fn: Callable[[], dict[str, Any]] | None = None,
        **ray_remote_args: Any,
    ) -> Dataset:
        """One row in, a list of rows out."""
        warn_on_ray_remote_args(ray_remote_args)
        return self._map(
            "flat_map",
            fn,
            compute=compute,
            fn_args=fn_args,
            fn_kwargs=fn_kwargs,
            fn_constructor_args=fn_constructor_args,
            fn_constructor_kwargs=fn_constructor_kwargs,
            concurrency=concurrency,
            remote_args=_op_remote_args(
                num_cpus,
                num_gpus,
                memory,
                label_selector,
                fallback_strategy,
                max_calls,
                resources,
                accelerator_type,
                runtime_env,
                ray_remote_args_fn,
                ray_remote_args,
            ),
        )

    def filter(
        self,
        fn: Any = None,
        expr: Any = None,
        *,
        compute: Any = None,
        fn_args: Any = None,
        fn_kwargs: Any = None,
        fn_constructor_args: Any = None,
        fn_constructor_kwargs: Any = None,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: float | None = None,
        concurrency: Any = None,
        label_selector: dict[str, str] | None = None,
        fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None,
        resources: dict[str, float] | None = None,
        accelerator_type: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        ray_remote_args_fn: Callable[[], dict[str, Any]] | None = None,
        **ray_remote_args: Any,
    ) -> Dataset:
        """Keep the rows for which `fn(row)` is True, or where the expression `expr` is:
        `ds.filter(expr=col("x") > 5)` (evaluated by Arrow on whole blocks, no Python per row).
        A string `expr` ("x > 5") is Ray's deprecated form: accepted, with its warning."""
        warn_on_ray_remote_args(ray_remote_args)
        if (fn is None) == (expr is None):
            raise ValueError(
                "Exactly one of 'fn' or 'expr' must be provided: ds.filter(lambda row: ...) or "
                "ds.filter(expr=col('x') > 0)."
            )
        if expr is not None:
            if any(a is not None for a in (fn_args, fn_kwargs, fn_constructor_args)) or (
                fn_constructor_kwargs is not None
            ):
                raise ValueError(
                    "when 'expr' is used, 'fn_args/fn_kwargs' or "
                    "'fn_constructor_args/fn_constructor_kwargs' cannot be used."
                )
            if isinstance(expr, str):
                warnings.warn(
                    "String expressions are deprecated and will be removed in a future version. "
                    "Use predicate expressions from ray.data.expressions instead. For example: "
                    "from ray.data.expressions import col; ds.filter(expr=col('column_name') > 5)",
                    DeprecationWarning,
                    stacklevel=2,
                )
                expr = ex.parse(expr)
            if not isinstance(expr, ex.Expr):
                raise TypeError(
                    f"filter(expr=...) takes an expression (col('x') > 0) or a string, got {expr!r}"
                )
            return self._expr_op(
                "filter_expr",
                f"Filter({_short(ex.inline(expr))})",
                expr,
                _op_remote_args(
                    num_cpus,
                    num_gpus,
                    memory,
                    label_selector,
                    fallback_strategy,
                    max_calls,
                    resources,
                    accelerator_type,
                    runtime_env,
                    ray_remote_args_fn,
                    ray_remote_args,
                ),
            )
        return self._map(
            "filter",
            fn,
            compute=compute,
            fn_args=fn_args,
            fn_kwargs=fn_kwargs,
            fn_constructor_args=fn_constructor_args,
            fn_constructor_kwargs=fn_constructor_kwargs,
            concurrency=concurrency,
            remote_args=_op_remote_args(
                num_cpus,
                num_gpus,
                memory,
                label_selector,
                fallback_strategy,
                max_calls,
                resources,
                accelerator_type,
                runtime_env,
                ray_remote_args_fn,
                ray_remote_args,
            ),
        )

    def with_column(
        self,
        column_name: str,
        expr: ex.Expr,
        *,
        compute: Any = None,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: float | None = None,
        label_selector: dict[str, str] | None = None,
        fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None,
        resources: dict[str, float] | None = None,
        accelerator_type: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        **ray_remote_args: Any,
    ) -> Dataset:
        """A new column (or a replaced one) computed by an expression: `col("x") * 2`."""
        warn_on_ray_remote_args(ray_remote_args)
        if not isinstance(column_name, str):
            raise TypeError(f"with_column() needs a column name (str), got {column_name!r}")
        if not isinstance(expr, ex.Expr):
            raise TypeError(
                f"with_column() takes an expression such as col('x') * 2, got {expr!r}; for a "
                "function of a batch use add_column()."
            )
        return self._expr_op(
            "with_column",
            "Project",
            (column_name, expr),
            _op_remote_args(
                num_cpus,
                num_gpus,
                memory,
                label_selector,
                fallback_strategy,
                max_calls,
                resources,
                accelerator_type,
                runtime_env,
                None,
                ray_remote_args,
            ),
        )

    def _expr_op(self, kind: str, name: str, payload: Any, remote_args: dict) -> Dataset:
        spec = MapSpec(kind=kind, name=name, fn=payload)
        args = {k: v for k, v in remote_args.items() if v is not None}
        return self._then(lp.MapOp(self._op, spec, args))

    def add_column(
        self,
        col: str,
        fn: Callable[[Any], Any],
        *,
        batch_format: str | None = "pandas",
        compute: Any = None,
        concurrency: Any = None,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: float | None = None,
        label_selector: dict[str, str] | None = None,
        fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None,
        resources: dict[str, float] | None = None,
        accelerator_type: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        **ray_remote_args: Any,
    ) -> Dataset:
        """A new column computed from each batch (a pandas DataFrame by default)."""
        warn_on_ray_remote_args(ray_remote_args)
        _check_batch_format(batch_format)
        if not callable(fn):
            raise TypeError(f"add_column() expects a function of a batch, got {fn!r}")
        return self._map(
            "map_batches",
            all_to_all.add_column,
            name="MapBatches(add_column)",
            fn_args=(col, fn, batch_format),
            batch_format="pyarrow",
            compute=compute,
            concurrency=concurrency,
            remote_args=_op_remote_args(
                num_cpus,
                num_gpus,
                memory,
                label_selector,
                fallback_strategy,
                max_calls,
                resources,
                accelerator_type,
                runtime_env,
                None,
                ray_remote_args,
            ),
        )

    def drop_columns(
        self,
        cols: list[str],
        *,
        compute: Any = None,
        concurrency: Any = None,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: float | None = None,
        label_selector: dict[str, str] | None = None,
        fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None,
        resources: dict[str, float] | None = None,
        accelerator_type: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        **ray_remote_args: Any,
    ) -> Dataset:
        warn_on_ray_remote_args(ray_remote_args)
        cols = column_list("drop_columns", cols)
        return self._map(
            "map_batches",
            all_to_all.drop_columns,
            name="MapBatches(drop_columns)",
            fn_args=(cols,),
            batch_format="pyarrow",
            compute=compute,
            concurrency=concurrency,
            remote_args=_op_remote_args(
                num_cpus,
                num_gpus,
                memory,
                label_selector,
                fallback_strategy,
                max_calls,
                resources,
                accelerator_type,
                runtime_env,
                None,
                ray_remote_args,
            ),
        )

    def select_columns(
        self,
        cols: str | list[str],
        *,
        compute: Any = None,
        concurrency: Any = None,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: float | None = None,
        label_selector: dict[str, str] | None = None,
        fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None,
        resources: dict[str, float] | None = None,
        accelerator_type: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        **ray_remote_args: Any,
    ) -> Dataset:
        warn_on_ray_remote_args(ray_remote_args)
        cols = column_list("select_columns", cols)
        return self._map(
            "map_batches",
            all_to_all.select_columns,
            name="MapBatches(select_columns)",
            fn_args=(cols,),
            batch_format="pyarrow",
            compute=compute,
            concurrency=concurrency,
            remote_args=_op_remote_args(
                num_cpus,
                num_gpus,
                memory,
                label_selector,
                fallback_strategy,
                max_calls,
                resources,
                accelerator_type,
                runtime_env,
                None,
                ray_remote_args,
            ),
        )

    def rename_columns(
        self,
        names: list[str] | dict[str, str],
        *,
        concurrency: Any = None,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: float | None = None,
        label_selector: dict[str, str] | None = None,
        fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None,
        resources: dict[str, float] | None = None,
        accelerator_type: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        **ray_remote_args: Any,
    ) -> Dataset:
        warn_on_ray_remote_args(ray_remote_args)
        if not isinstance(names, dict | list):
            raise TypeError(
                "rename_columns() expects a dict {old: new} or a list of new names, got "
                f"{names!r}"
            )
        return self._map(
            "map_batches",
            all_to_all.rename_columns,
            name="MapBatches(rename_columns)",
            fn_args=(names,),
            batch_format="pyarrow",
            remote_args=_op_remote_args(
                num_cpus,
                num_gpus,
                memory,
                label_selector,
                fallback_strategy,
                max_calls,
                resources,
                accelerator_type,
                runtime_env,
                None,
                ray_remote_args,
            ),
        )

    def random_sample(self, fraction: float, *, seed: int | None = None) -> Dataset:
        if not 0 <= fraction <= 1:
            raise ValueError(f"random_sample(fraction) needs 0 <= fraction <= 1, got {fraction}")
        spec = MapSpec(kind="sample", name="RandomSample", fn=(fraction, seed))
        return self._then(lp.MapOp(self._op, spec))

    def limit(self, limit: int) -> Dataset:
        if not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit() needs an int >= 0, got {limit!r}")
        return self._then(lp.Limit(self._op, limit))

    def union(self, *other: Dataset) -> Dataset:
        for o in other:
            if not isinstance(o, Dataset):
                raise TypeError(f"union() takes Datasets, got {type(o).__name__}")
        return self._then(lp.Union((self._op, *(o._op for o in other))))

    def zip(self, *other: Dataset) -> Dataset:
        warnings.warn(
            "`Dataset.zip` is deprecated and will be removed in Ray 2.64: it pairs rows by "
            "position, which needs both datasets in a deterministic order. Ray's replacement "
            "is a join on a shared key; here, keep the columns in one dataset (map/add_column).",
            DeprecationWarning,
            stacklevel=2,
        )
        for o in other:
            if not isinstance(o, Dataset):
                raise TypeError(f"zip() takes Datasets, got {type(o).__name__}")
        ops = (self._op, *(o._op for o in other))
        return self._then(lp.AllToAll("Zip", ops, all_to_all.zip_bundles))

    def random_shuffle(
        self, *, seed: int | None = None, num_blocks: int | None = None, **ray_remote_args: Any
    ) -> Dataset:
        fn = all_to_all.Shuffle(seed, num_blocks)
        return self._then(lp.AllToAll("RandomShuffle", (self._op,), fn))

    def sort(
        self,
        key: str | list[str],
        descending: bool | list[bool] = False,
        boundaries: list | None = None,
    ) -> Dataset:
        keys = column_list("sort", key)
        desc = [descending] * len(keys) if isinstance(descending, bool) else list(descending)
        if len(desc) != len(keys):
            raise ValueError(f"sort(): {len(keys)} keys but {len(desc)} descending flags")
        fn = all_to_all.Sort(keys, desc)
        return self._then(lp.AllToAll("Sort", (self._op,), fn))

    def repartition(
        self,
        num_blocks: int | None = None,
        target_num_rows_per_block: int | None = None,
        *,
        strict: bool = False,
        shuffle: bool = False,
        keys: list[str] | None = None,
        sort: bool = False,
    ) -> Dataset:
        if (num_blocks is None) == (target_num_rows_per_block is None):
            raise ValueError(
                "repartition() needs exactly one of num_blocks or target_num_rows_per_block."
            )
        for v in (num_blocks, target_num_rows_per_block):
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"repartition() needs a positive int, got {v!r}")
        if shuffle:
            fn: Any = all_to_all.Shuffle(None, num_blocks)
        else:
            fn = all_to_all.Repartition(num_blocks, target_num_rows_per_block)
        return self._then(lp.AllToAll("Repartition", (self._op,), fn))

    def groupby(self, key: str | list[str] | None, num_partitions: int | None = None):
        from .grouped import GroupedData

        keys = [] if key is None else column_list("groupby", key)
        return GroupedData(self, keys, num_partitions)

    # ---- aggregations (consume) -------------------------------------------------------

    def aggregate(self, *aggs: agg.AggregateFn) -> Any:
        for a in aggs:
            if not isinstance(a, agg.AggregateFn):
                raise TypeError(
                    f"aggregate() takes AggregateFn objects (Count(), Sum('x')...), got {a!r}"
                )
        refs = [b.block_ref for b in self._bundles()]
        return agg.aggregate_blocks(refs, list(aggs))

    def _stat(self, cls: Any, on: Any, **kw: Any) -> Any:
        cols = [on] if isinstance(on, str) else (on or self.columns())
        aggs = [cls(c, **kw) for c in cols]
        result = self.aggregate(*aggs)
        if result is None:
            return None
        # One column: the value; several (or all): {"sum(x)": ..., "sum(y)": ...}, as Ray.
        return result[aggs[0].name] if isinstance(on, str) else result

    def sum(self, on: Any = None, ignore_nulls: bool = True) -> Any:
        return self._stat(agg.Sum, on, ignore_nulls=ignore_nulls)

    def min(self, on: Any = None, ignore_nulls: bool = True) -> Any:
        return self._stat(agg.Min, on, ignore_nulls=ignore_nulls)

    def max(self, on: Any = None, ignore_nulls: bool = True) -> Any:
        return self._stat(agg.Max, on, ignore_nulls=ignore_nulls)

    def mean(self, on: Any = None, ignore_nulls: bool = True) -> Any:
        return self._stat(agg.Mean, on, ignore_nulls=ignore_nulls)

    def std(self, on: Any = None, ddof: int = 1, ignore_nulls: bool = True) -> Any:
        return self._stat(agg.Std, on, ddof=ddof, ignore_nulls=ignore_nulls)

    def unique(self, column: str, ignore_nulls: bool = False) -> list[Any]:
        refs = [b.block_ref for b in self._bundles()]
        return all_to_all.unique_values(refs, column, ignore_nulls)

    def streaming_split(
        self, n: int, *, equal: bool = False, locality_hints: Any = None
    ) -> list[DataIterator]:
        from .iterator import streaming_split

        if not isinstance(n, int) or n < 1:
            raise ValueError(f"streaming_split(n) needs an int n >= 1, got {n!r}")
        return streaming_split(self, n, equal)

    # ---- consumption -----------------------------------------------------------------

    def num_blocks(self) -> int:
        raise NotImplementedError(
            "Number of blocks is only available for `MaterializedDataset`, because the number "
            "of blocks may dynamically change during execution. Call `ds.materialize()` to get "
            "a `MaterializedDataset`."
        )

    def size_bytes(self) -> int:
        """The dataset's size in memory (runs the plan, as Ray does when it is not known)."""
        return self.materialize().size_bytes()

    def input_files(self) -> list[str]:
        """The files the plan reads (known without running it); [] when it reads none."""
        return sorted(_input_files(self._op))

    def set_name(self, name: str | None) -> None:
        self._name = name

    @property
    def name(self) -> str | None:
        return getattr(self, "_name", None)

    def get_dataset_id(self) -> str:
        """`<name or 'dataset'>_<uuid>_<execution index>`, as Ray's."""
        return f"{self.name or 'dataset'}_{self._uuid}_{self._stats.executions}"

    @property
    def context(self) -> Any:
        from .context import DataContext

        return DataContext.get_current()

    def randomize_block_order(self, *, seed: int | None = None) -> Dataset:
        """The same blocks in a random order (cheap: no rows move), as Ray's."""
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"randomize_block_order(seed=...) takes an int or None, got {seed!r}")
        return self._then(
            lp.AllToAll("RandomizeBlockOrder", (self._op,), all_to_all.BlockOrder(seed))
        )

    def iter_internal_ref_bundles(self) -> Iterator[RefBundle]:
        return self._bundles()

    def materialize(self) -> MaterializedDataset:
        bundles = list(self._bundles())
        out = MaterializedDataset(lp.InputData(lp.describe(self._op), bundles))
        out._stats = self._stats
        return out

    def count(self) -> int:
        return builtins.sum(b.meta.num_rows for b in self._bundles())

    def schema(self, fetch_if_missing: bool = True) -> Schema | None:
        last = None
        for b in self._bundles():
            if b.meta.schema is not None and (b.meta.schema.names or b.meta.num_rows):
                return Schema(b.meta.schema)
            last = b.meta.schema
        return Schema(last) if last is not None and last.names else None

    def columns(self, fetch_if_missing: bool = True) -> list[str] | None:
        schema = self.schema()
        return schema.names if schema is not None else None

    def take(self, limit: int = 20) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for b in self.limit(limit)._bundles():
            rows.extend(blocks.to_rows(rayground.get(b.block_ref)))
        return rows[:limit]

    def take_all(self, limit: int | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for b in self._bundles():
            rows.extend(blocks.to_rows(rayground.get(b.block_ref)))
            if limit is not None and len(rows) > limit:
                raise ValueError(
                    f"The dataset has more than the given limit of {limit} records. Use "
                    "take(limit) to get the first rows."
                )
        return rows

    def take_batch(self, batch_size: int = 20, *, batch_format: str | None = "default") -> Any:
        _check_batch_format(batch_format)
        tables = [rayground.get(b.block_ref) for b in self.limit(batch_size)._bundles()]
        return blocks.to_batch(blocks.concat(tables), batch_format)

    def show(self, limit: int = 20) -> None:
        for row in self.take(limit):
            print(row)

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        for b in self._bundles():
            yield from blocks.to_rows(rayground.get(b.block_ref))

    def iter_batches(
        self,
        *,
        prefetch_batches: int = 1,
        batch_size: int | None = 256,
        batch_format: str | None = "default",
        drop_last: bool = False,
        local_shuffle_buffer_size: int | None = None,
        local_shuffle_seed: int | None = None,
        _collate_fn: Any = None,
    ) -> Iterator[Any]:
        _check_batch_format(batch_format)
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
        batches = batches_from_bundles(
            self._bundles(),
            batch_size,
            batch_format,
            drop_last,
            local_shuffle_buffer_size,
            local_shuffle_seed,
        )
        if _collate_fn is None:
            return batches
        return (_collate_fn(b) for b in batches)

    def iter_torch_batches(
        self,
        *,
        prefetch_batches: int = 1,
        batch_size: int | None = 256,
        dtypes: Any = None,
        device: Any = "auto",
        collate_fn: Any = None,
        drop_last: bool = False,
        local_shuffle_buffer_size: int | None = None,
        local_shuffle_seed: int | None = None,
        pin_memory: bool = False,
    ) -> Iterator[Any]:
        """Batches as dicts of PyTorch tensors (or what `collate_fn` makes of them)."""
        return self.iterator().iter_torch_batches(
            batch_size=batch_size,
            dtypes=dtypes,
            device=device,
            collate_fn=collate_fn,
            drop_last=drop_last,
            local_shuffle_buffer_size=local_shuffle_buffer_size,
            local_shuffle_seed=local_shuffle_seed,
        )

    def iterator(self) -> DataIterator:
        return DataIterator(self)

    def to_pandas(self, limit: int | None = None) -> Any:
        tables = [rayground.get(b.block_ref) for b in self._bundles()]
        table = blocks.concat(tables)
        if limit is not None and table.num_rows > limit:
            raise ValueError(
                f"The dataset has more than the given limit of {limit} rows: {table.num_rows}. "
                "Pass a larger limit, or use ds.limit(n).to_pandas()."
            )
        return blocks.to_batch(table, "pandas")

    def to_arrow_refs(self) -> list[Any]:
        return [b.block_ref for b in self._bundles()]

    def to_numpy_refs(self, *, column: str | None = None) -> list[Any]:
        convert = rayground.remote(all_to_all.block_to_numpy)
        return [
            convert.options(name="ToNumpy").remote(b.block_ref, column) for b in self._bundles()
        ]

    def to_pandas_refs(self) -> list[Any]:
        convert = rayground.remote(all_to_all.block_to_pandas)
        return [convert.options(name="ToPandas").remote(b.block_ref) for b in self._bundles()]

    # ---- writing ---------------------------------------------------------------------

    def write_parquet(
        self,
        path: str,
        *,
        partition_cols: list[str] | None = None,
        filesystem: Any = None,
        catalog: Any = None,
        try_create_dir: bool = True,
        arrow_open_stream_args: dict[str, Any] | None = None,
        filename_provider: Any = None,
        arrow_parquet_args_fn: Callable[[], dict] | None = None,
        min_rows_per_file: int | None = None,
        max_rows_per_file: int | None = None,
        min_bytes_per_file: int | None = None,
        ray_remote_args: dict[str, Any] | None = None,
        concurrency: int | None = None,
        num_rows_per_file: int | None = None,
        mode: SaveMode = SaveMode.APPEND,
        **arrow_parquet_args: Any,
    ) -> None:
        """Parquet files under `path`, one per write task (or per partition directory with
        `partition_cols`); `mode` decides what happens to an existing directory."""
        for unsupported, value in (
            ("catalog", catalog),
            ("min_bytes_per_file", min_bytes_per_file),
        ):
            if value is not None:
                raise NotImplementedError(
                    f"write_parquet({unsupported}=...) is not supported by rayground yet; "
                    "use min_rows_per_file/max_rows_per_file to size files."
                )
        args = {**(arrow_parquet_args_fn() if arrow_parquet_args_fn else {}), **arrow_parquet_args}
        if "partitioning_flavor" in args and not partition_cols:
            raise ValueError("partition_cols must be provided when partitioning_flavor is set.")
        write(
            self._op,
            self._stats,
            "parquet",
            path,
            dataset_uuid=self._uuid,
            filesystem=filesystem,
            try_create_dir=try_create_dir,
            arrow_open_stream_args=arrow_open_stream_args,
            filename_provider=filename_provider,
            min_rows_per_file=min_rows_per_file,
            max_rows_per_file=max_rows_per_file,
            num_rows_per_file=num_rows_per_file,
            partition_cols=partition_cols,
            ray_remote_args=ray_remote_args,
            concurrency=concurrency,
            mode=mode,
            args=args,
        )

    def write_csv(
        self,
        path: str,
        *,
        filesystem: Any = None,
        try_create_dir: bool = True,
        arrow_open_stream_args: dict[str, Any] | None = None,
        filename_provider: Any = None,
        arrow_csv_args_fn: Callable[[], dict] | None = None,
        min_rows_per_file: int | None = None,
        ray_remote_args: dict[str, Any] | None = None,
        concurrency: int | None = None,
        num_rows_per_file: int | None = None,
        mode: SaveMode = SaveMode.APPEND,
        **arrow_csv_args: Any,
    ) -> None:
        args = {**(arrow_csv_args_fn() if arrow_csv_args_fn else {}), **arrow_csv_args}
        write(
            self._op,
            self._stats,
            "csv",
            path,
            dataset_uuid=self._uuid,
            filesystem=filesystem,
            try_create_dir=try_create_dir,
            arrow_open_stream_args=arrow_open_stream_args,
            filename_provider=filename_provider,
            min_rows_per_file=min_rows_per_file,
            num_rows_per_file=num_rows_per_file,
            ray_remote_args=ray_remote_args,
            concurrency=concurrency,
            mode=mode,
            args=args,
        )

    def write_json(
        self,
        path: str,
        *,
        filesystem: Any = None,
        try_create_dir: bool = True,
        arrow_open_stream_args: dict[str, Any] | None = None,
        filename_provider: Any = None,
        pandas_json_args_fn: Callable[[], dict] | None = None,
        min_rows_per_file: int | None = None,
        ray_remote_args: dict[str, Any] | None = None,
        concurrency: int | None = None,
        num_rows_per_file: int | None = None,
        mode: SaveMode = SaveMode.APPEND,
        **pandas_json_args: Any,
    ) -> None:
        args = {**(pandas_json_args_fn() if pandas_json_args_fn else {}), **pandas_json_args}
        write(
            self._op,
            self._stats,
            "json",
            path,
            dataset_uuid=self._uuid,
            filesystem=filesystem,
            try_create_dir=try_create_dir,
            arrow_open_stream_args=arrow_open_stream_args,
            filename_provider=filename_provider,
            min_rows_per_file=min_rows_per_file,
            num_rows_per_file=num_rows_per_file,
            ray_remote_args=ray_remote_args,
            concurrency=concurrency,
            mode=mode,
            args=args,
        )

    def write_numpy(
        self,
        path: str,
        *,
        column: str,
        filesystem: Any = None,
        try_create_dir: bool = True,
        arrow_open_stream_args: dict[str, Any] | None = None,
        filename_provider: Any = None,
        min_rows_per_file: int | None = None,
        ray_remote_args: dict[str, Any] | None = None,
        concurrency: int | None = None,
        num_rows_per_file: int | None = None,
        mode: SaveMode = SaveMode.APPEND,
    ) -> None:
        write(
            self._op,
            self._stats,
            "numpy",
            path,
            dataset_uuid=self._uuid,
            filesystem=filesystem,
            try_create_dir=try_create_dir,
            arrow_open_stream_args=arrow_open_stream_args,
            filename_provider=filename_provider,
            min_rows_per_file=min_rows_per_file,
            num_rows_per_file=num_rows_per_file,
            ray_remote_args=ray_remote_args,
            concurrency=concurrency,
            mode=mode,
            args={"column": column},
        )

    # ---- introspection ---------------------------------------------------------------

    def stats(self) -> str:
        return self._stats.to_summary()

    def __repr__(self) -> str:
        return f"Dataset(plan={lp.describe(self._op)})"

    def __iter__(self) -> Any:
        raise TypeError(
            "`Dataset` objects aren't iterable. To iterate records, call `ds.iter_rows()` or "
            "`ds.iter_batches()`."
        )


class MaterializedDataset(Dataset):
    """A dataset whose blocks are all in the object store (from_items, materialize, split)."""

    def _then(self, op: lp.LogicalOp) -> Dataset:
        return Dataset(op)

    @property
    def _input(self) -> lp.InputData:
        assert isinstance(self._op, lp.InputData)
        return self._op

    def num_blocks(self) -> int:
        return len(self._input.bundles)

    def count(self) -> int:
        return builtins.sum(b.meta.num_rows for b in self._input.bundles)

    def size_bytes(self) -> int:
        return builtins.sum(b.meta.size_bytes for b in self._input.bundles)

    def materialize(self) -> MaterializedDataset:
        return self

    def __repr__(self) -> str:
        schema = self.schema()
        cols = (
            ", ".join(f"{n}: {t}" for n, t in zip(schema.names, schema.types, strict=True))
            if schema
            else ""
        )
        return (
            f"MaterializedDataset(num_blocks={self.num_blocks()}, num_rows={self.count()}, "
            f"schema={{{cols}}})"
        )


__all__ = ["Dataset", "MaterializedDataset", "Schema"]
