"""Blocks: the unit of data. A block is a `pyarrow.Table`; this module converts between blocks
and what user functions see (rows as dicts, batches as NumPy dicts, pandas or Arrow) and back.

Blocks travel through the object store as Arrow tables; pickle 5 hands their buffers out of band,
so a block read from shared memory is a table whose buffers point into the store (no copy).

Values Arrow cannot hold (arbitrary Python objects) go in a column of the `PythonObjectType`
extension type, pickled per value, and come back as the objects themselves. N-dimensional
arrays per row go in a fixed-shape tensor column and come back as NumPy arrays.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

Block = pa.Table

BATCH_FORMATS = ("default", "numpy", "pandas", "pyarrow", None)


class PythonObjectType(pa.ExtensionType):
    """A column of pickled Python objects (values Arrow has no type for)."""

    def __init__(self) -> None:
        super().__init__(pa.binary(), "rayground.data.python_object")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> Any:
        return PythonObjectType()

    def __reduce__(self) -> tuple[Any, ...]:
        return (PythonObjectType, ())


try:
    pa.register_extension_type(PythonObjectType())
except pa.ArrowKeyError:  # already registered by an earlier import in this process
    pass


@dataclass(frozen=True)
class BlockMetadata:
    """What the driver knows about a block without fetching it (returned beside each block)."""

    num_rows: int
    size_bytes: int
    schema: pa.Schema | None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    input_files: tuple[str, ...] = ()


def metadata_of(block: Block, wall_s: float = 0.0, cpu_s: float = 0.0) -> BlockMetadata:
    return BlockMetadata(block.num_rows, block.nbytes, block.schema, wall_s, cpu_s)


def empty_block() -> Block:
    return pa.table({})


# ---- values -> Arrow ---------------------------------------------------------------------


def _tensor_array(arr: np.ndarray) -> pa.Array:
    """Rows of an N-d array (first axis = rows) as a fixed-shape tensor column."""
    arr = np.ascontiguousarray(arr)
    if arr.shape[0] == 0:
        tensor_type = pa.fixed_shape_tensor(pa.from_numpy_dtype(arr.dtype), arr.shape[1:])
        return pa.ExtensionArray.from_storage(
            tensor_type, pa.array([], pa.list_(tensor_type.value_type, int(np.prod(arr.shape[1:]))))
        )
    return pa.FixedShapeTensorArray.from_numpy_ndarray(arr)


def _objects_array(values: list[Any]) -> pa.Array:
    storage = pa.array(
        [None if v is None else pickle.dumps(v, protocol=5) for v in values], pa.binary()
    )
    return pa.ExtensionArray.from_storage(PythonObjectType(), storage)


def to_arrow_column(values: Any) -> pa.Array | pa.ChunkedArray:
    """One column of a user's batch (NumPy array, list, pandas Series, Arrow array) as Arrow."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):  # pandas Series
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        if values.ndim > 1:
            return _tensor_array(values)
        if values.dtype != object:
            return pa.array(values)
        values = list(values)
    values = list(values)
    if values and all(isinstance(v, np.ndarray) for v in values):
        shapes = {v.shape for v in values}
        if len(shapes) == 1 and values[0].ndim >= 1 and values[0].dtype != object:
            return _tensor_array(np.stack(values))
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        return _objects_array(values)


def from_batch(batch: Any, what: str = "fn") -> Block:
    """A user's batch (dict of columns, pandas DataFrame or Arrow table) as a block."""
    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, Mapping):
        columns = {str(k): to_arrow_column(v) for k, v in batch.items()}
        lengths = {len(c) for c in columns.values()}
        if len(lengths) > 1:
            sizes = {k: len(c) for k, c in columns.items()}
            raise ValueError(
                f"The `{what}` you passed returned a batch whose columns have different lengths "
                f"({sizes}); every column of a batch must have one value per row."
            )
        return pa.table(columns) if columns else empty_block()
    if _is_dataframe(batch):
        return from_batch({str(k): batch[k] for k in batch.columns}, what)
    raise ValueError(
        f"The `{what}` you passed to `map_batches` returned a value of type {type(batch)}. "
        "This isn't allowed -- `map_batches` expects `fn` to return a `pandas.DataFrame`, "
        "`pyarrow.Table`, or `dict[str, numpy.ndarray]` (one array per column)."
    )


def from_rows(rows: list[Mapping[str, Any]]) -> Block:
    """Rows (dicts) as a block; a key missing from some rows reads as None there."""
    if not rows:
        return empty_block()
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return from_batch({n: [row.get(n) for row in rows] for n in names})


def from_items(items: list[Any]) -> Block:
    """Ray's from_items: dicts become rows, anything else is the `item` column."""
    if items and all(isinstance(i, Mapping) for i in items):
        return from_rows(items)
    return from_rows([i if isinstance(i, Mapping) else {"item": i} for i in items])


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns")


# ---- Arrow -> values ---------------------------------------------------------------------


def column_to_numpy(col: pa.ChunkedArray) -> np.ndarray:
    if isinstance(col.type, pa.FixedShapeTensorType):
        combined = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        if len(combined) == 0:
            return np.empty((0, *col.type.shape), dtype=col.type.value_type.to_pandas_dtype())
        return combined.to_numpy_ndarray()
    if isinstance(col.type, PythonObjectType):
        out = np.empty(len(col), dtype=object)
        out[:] = _unpickle_column(col)
        return out
    try:
        return col.to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = np.empty(len(col), dtype=object)
        out[:] = col.to_pylist()
        return out


def _unpickle_column(col: pa.ChunkedArray) -> list[Any]:
    return [None if v is None else pickle.loads(v) for v in col.cast(pa.binary()).to_pylist()]


def _has_special(block: Block) -> bool:
    return any(
        isinstance(t, pa.FixedShapeTensorType | PythonObjectType) for t in block.schema.types
    )


def to_batch(block: Block, batch_format: str | None) -> Any:
    if batch_format in ("default", "numpy"):
        return {name: column_to_numpy(block.column(name)) for name in block.column_names}
    if batch_format == "pandas":
        if not _has_special(block):
            return block.to_pandas()
        import pandas as pd

        return pd.DataFrame(
            {
                name: list(column_to_numpy(block.column(name)))
                if _special(block, name)
                else block.column(name).to_pandas()
                for name in block.column_names
            }
        )
    if batch_format in ("pyarrow", None):
        return block
    raise ValueError(
        f"The given batch format {batch_format} isn't allowed (must be one of "
        "['default', 'numpy', 'pandas', 'pyarrow', None])."
    )


def _special(block: Block, name: str) -> bool:
    return isinstance(block.schema.field(name).type, pa.FixedShapeTensorType | PythonObjectType)


def _fast_numeric(col: pa.ChunkedArray) -> bool:
    t = col.type
    return col.null_count == 0 and (
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
    )


def to_rows(block: Block) -> list[dict[str, Any]]:
    if not block.column_names:
        return [{} for _ in range(block.num_rows)]
    columns: dict[str, list[Any]] = {}
    for name in block.column_names:
        col = block.column(name)
        if _fast_numeric(col):
            # NumPy's tolist makes Python scalars ten times faster than Arrow's to_pylist.
            columns[name] = col.to_numpy().tolist()
        elif isinstance(col.type, PythonObjectType):
            columns[name] = _unpickle_column(col)
        elif isinstance(col.type, pa.FixedShapeTensorType):
            columns[name] = list(column_to_numpy(col))
        else:
            columns[name] = col.to_pylist()
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]


def iter_slices(block: Block, batch_size: int | None) -> Iterator[Block]:
    """The block cut into batches of `batch_size` rows (zero-copy slices); None = whole block."""
    if batch_size is None or block.num_rows <= batch_size:
        yield block
        return
    for start in range(0, block.num_rows, batch_size):
        yield block.slice(start, batch_size)


def concat(blocks: Iterable[Block]) -> Block:
    """Blocks as one table; empty blocks without columns are skipped."""
    parts = [b for b in blocks if b.num_columns or b.num_rows]
    if not parts:
        return empty_block()
    if len(parts) == 1:
        return parts[0]
    try:
        return pa.concat_tables(parts, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(
            f"Blocks with different schemas cannot be combined: {parts[0].schema} vs. "
            f"{parts[-1].schema}. Make every batch your function returns have the same columns "
            f"and types. ({exc})"
        ) from None
