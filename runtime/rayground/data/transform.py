"""What runs on a worker: a fused chain of row/batch operations applied to one block.

The driver fuses consecutive map-like operators (map, map_batches, flat_map, filter, column ops,
random_sample, write) into one *chain*; one task (or one actor call) runs the whole chain on one
block: read or take the input block, pass it through every step, return the output block and its
`BlockMetadata` (two returns, so the driver learns row counts without fetching the block).

A user function that raises becomes a `UserCodeException` naming the operator, the block and the
batch, with the user's exception as its cause and this module's frames cut from its traceback, so
the first traceback a user reads is their own code.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa

from ..exceptions import UserCodeException
from . import block as blocks
from . import expressions
from .block import Block, BlockMetadata


@dataclass(frozen=True)
class MapSpec:
    """One map-like operator, as sent to the worker.

    kind: "map" (row -> row), "flat_map" (row -> rows), "filter" (row -> bool), "map_batches"
    (batch -> batch), "sample" (keep a random fraction), "write" (`fn` is a writer object),
    "filter_expr" (`fn` is a predicate `Expr`), "with_column" (`fn` is (name, `Expr`)),
    "split_flag" (`fn` is (test_size, seed, column): a random train/test flag per row).
    """

    kind: str
    name: str
    fn: Any
    fn_args: tuple = ()
    fn_kwargs: dict = field(default_factory=dict)
    ctor_args: tuple = ()
    ctor_kwargs: dict = field(default_factory=dict)
    batch_size: int | None = None
    batch_format: str | None = "default"
    is_class: bool = False

    def instantiated(self) -> MapSpec:
        """This step with its callable class constructed (done once per actor)."""
        if not self.is_class:
            return self
        try:
            instance = self.fn(*self.ctor_args, **self.ctor_kwargs)
        except Exception as exc:
            _trim(exc)
            raise UserCodeException(
                f"{self.name}: the constructor of {self.fn.__name__} raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return replace(self, fn=instance, is_class=False)


def _trim(exc: BaseException) -> None:
    """Drop the frame of the call site here, so the traceback starts in the user's code."""
    if exc.__traceback__ is not None and exc.__traceback__.tb_next is not None:
        exc.__traceback__ = exc.__traceback__.tb_next


def _call(spec: MapSpec, index: int, what: str, arg: Any) -> Any:
    try:
        return spec.fn(arg, *spec.fn_args, **spec.fn_kwargs)
    except Exception as exc:
        _trim(exc)
        raise UserCodeException(
            f"UDF failed to process a data block: {spec.name} raised {type(exc).__name__}: "
            f"{exc} (block {index}, {what})."
        ) from exc


def _check_row(spec: MapSpec, out: Any) -> Mapping[str, Any]:
    if not isinstance(out, Mapping):
        raise ValueError(
            f"Error validating {out!r}: {spec.name} must return a dict (one row), got "
            f"{type(out).__name__}. Standalone Python objects are not allowed; wrap them in a "
            f"dict, e.g. return {{'item': item}} instead of just item."
        )
    return out


def _map_rows(spec: MapSpec, block: Block, index: int) -> Block:
    rows = blocks.to_rows(block)
    if spec.kind == "map":
        out = [_check_row(spec, _call(spec, index, f"row {i}", row)) for i, row in enumerate(rows)]
        return blocks.from_rows(out)
    if spec.kind == "flat_map":
        flat: list[Mapping[str, Any]] = []
        for i, row in enumerate(rows):
            result = _call(spec, index, f"row {i}", row)
            if isinstance(result, Mapping):
                raise ValueError(
                    f"{spec.name} must return a list of rows (dicts), got a single dict; "
                    "wrap it in a list, or use map() for one row out per row in."
                )
            flat.extend(_check_row(spec, r) for r in result)
        return blocks.from_rows(flat) if flat else block.slice(0, 0)
    # filter
    keep = []
    for i, row in enumerate(rows):
        verdict = _call(spec, index, f"row {i}", row)
        if not isinstance(verdict, bool | np.bool_):
            raise ValueError(
                f"{spec.name} must return a bool for each row, got {type(verdict).__name__} "
                f"({verdict!r})."
            )
        keep.append(bool(verdict))
    return block.filter(pa.array(keep, pa.bool_())) if rows else block


def _results(out: Any) -> Iterator[Any]:
    """A batch function's return: one batch, or a generator of batches."""
    if inspect.isgenerator(out) or (
        isinstance(out, Iterator) and not isinstance(out, Mapping | pa.Table)
    ):
        yield from out
    else:
        yield out


def _map_batches(spec: MapSpec, block: Block, index: int) -> Block:
    if spec.batch_format not in blocks.BATCH_FORMATS:
        blocks.to_batch(block, spec.batch_format)  # raises the error that names the formats
    outputs = []
    start = 0
    for piece in blocks.iter_slices(block, spec.batch_size):
        batch = blocks.to_batch(piece, spec.batch_format)
        what = f"batch of rows {start}-{start + piece.num_rows - 1}"
        for out in _results(_call(spec, index, what, batch)):
            outputs.append(blocks.from_batch(out, spec.name))
        start += piece.num_rows
    if not outputs:
        return block.slice(0, 0)
    return blocks.concat(outputs)


def _sample(spec: MapSpec, block: Block, index: int) -> Block:
    fraction, seed = spec.fn
    rng = np.random.default_rng(None if seed is None else [seed, index])
    return block.filter(pa.array(rng.random(block.num_rows) < fraction))


def _split_flag(spec: MapSpec, block: Block, index: int) -> Block:
    """streaming_train_test_split's random side: each row is train with probability
    1 - test_size, from a generator seeded by the block's index (and the user's seed), so the
    train and the test dataset, each a separate execution, draw the same flags."""
    test_size, seed, column = spec.fn
    rng = np.random.default_rng([index] if seed is None else [index, seed])
    return block.append_column(column, pa.array(rng.random(block.num_rows) < (1 - test_size)))


def apply_chain(chain: tuple[MapSpec, ...], block: Block, index: int) -> Block:
    for spec in chain:
        if spec.kind in ("map", "flat_map", "filter"):
            block = _map_rows(spec, block, index)
        elif spec.kind == "map_batches":
            block = _map_batches(spec, block, index)
        elif spec.kind == "filter_expr":
            block = expressions.filter_table(block, spec.fn, spec.name)
        elif spec.kind == "with_column":
            block = expressions.with_column(block, *spec.fn)
        elif spec.kind == "split_flag":
            block = _split_flag(spec, block, index)
        elif spec.kind == "sample":
            block = _sample(spec, block, index)
        elif spec.kind == "write":
            spec.fn.write(block, index)
            block = blocks.empty_block()
        else:  # pragma: no cover - MapSpec kinds are set by Dataset's methods only
            raise ValueError(f"unknown map step kind {spec.kind!r}")
    return block


def run_chain(
    chain: tuple[MapSpec, ...], index: int, source: Any, *inputs: Block
) -> tuple[Block, BlockMetadata]:
    """Read (`source` is a read task) or combine the input blocks, then apply the chain."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    block = source.read() if source is not None else blocks.concat(inputs)
    files = tuple(getattr(source, "paths", ()))
    out = apply_chain(chain, block, index)
    meta = blocks.metadata_of(out, time.perf_counter() - wall0, time.process_time() - cpu0)
    return out, replace(meta, input_files=files)


class MapWorker:
    """The actor behind an actor-pool operator: constructs the user's class once, then runs the
    chain on each block it is sent."""

    def __init__(self, chain: tuple[MapSpec, ...]) -> None:
        self.chain = tuple(spec.instantiated() for spec in chain)

    def ready(self) -> bool:
        return True

    def process(self, index: int, source: Any, *inputs: Block) -> tuple[Block, BlockMetadata]:
        return run_chain(self.chain, index, source, *inputs)
