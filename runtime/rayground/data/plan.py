"""The lazy plan: a Dataset is a chain (a tree, with union and zip) of logical operators; nothing
runs until a consuming call hands the last operator to the executor (`executor.execute`).

Sources: `Read` (read tasks, run on the cluster) and `InputData` (blocks already in the object
store: from_items/from_pandas/..., materialized datasets). `MapOp` wraps one `MapSpec`;
consecutive MapOps with the same resources fuse into one task per block at execution. `AllToAll`
is a barrier: it gets every upstream block at once (shuffle, sort, groupby, repartition, zip).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .block import BlockMetadata
from .transform import MapSpec


@dataclass(frozen=True)
class RefBundle:
    """A block in the object store and what is known about it without fetching it."""

    block_ref: Any  # rayground.ObjectRef of a pyarrow.Table
    meta: BlockMetadata


@dataclass(frozen=True)
class ActorPoolStrategy:
    """Run a callable class on a pool of actors, each constructing the class once.

    `size` fixes the pool; `min_size`/`max_size` let it grow (from min_size) while every actor is
    busy and blocks are waiting. As Ray's `ray.data.ActorPoolStrategy`.
    """

    size: int | None = None
    min_size: int | None = None
    max_size: int | None = None
    initial_size: int | None = None
    max_tasks_in_flight_per_actor: int | None = None

    def __post_init__(self) -> None:
        if self.size is not None:
            if self.min_size is not None or self.max_size is not None:
                raise ValueError("ActorPoolStrategy takes size, or min_size/max_size, not both.")
            if not isinstance(self.size, int) or self.size < 1:
                raise ValueError(
                    f"ActorPoolStrategy(size=...) must be an int >= 1, got {self.size!r}"
                )
        lo, hi = self.bounds()
        if lo < 1 or (hi is not None and hi < lo):
            raise ValueError(
                f"ActorPoolStrategy needs 1 <= min_size <= max_size, got min_size={lo}, "
                f"max_size={hi}."
            )

    def bounds(self) -> tuple[int, int | None]:
        if self.size is not None:
            return self.size, self.size
        return (self.min_size or 1), self.max_size


@dataclass(frozen=True)
class TaskPoolStrategy:
    """Run a function as tasks, at most `size` at a time (None: as many as the executor's
    in-flight bound allows). As Ray's `ray.data.TaskPoolStrategy`."""

    size: int | None = None

    def __post_init__(self) -> None:
        if self.size is not None and (not isinstance(self.size, int) or self.size < 1):
            raise ValueError(f"TaskPoolStrategy(size=...) must be an int >= 1, got {self.size!r}")


class LogicalOp:
    """Base of the plan's nodes; each has a `name` and its `inputs` (upstream operators)."""

    name: str
    inputs: tuple[LogicalOp, ...]


@dataclass(eq=False)
class Read(LogicalOp):
    """Read tasks; `concurrency` caps how many run at once; `shuffle` (Ray's "files" or a
    FileShuffleConfig) deals the files out in a new order each execution (counted here)."""

    name: str
    read_tasks: list[Any]
    remote_args: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[LogicalOp, ...] = ()
    concurrency: int | None = None
    shuffle: Any = None
    executions: int = 0


@dataclass(eq=False)
class InputData(LogicalOp):
    name: str
    bundles: list[RefBundle]
    inputs: tuple[LogicalOp, ...] = ()


@dataclass(eq=False)
class MapOp(LogicalOp):
    input: LogicalOp
    spec: MapSpec
    remote_args: dict[str, Any] = field(default_factory=dict)
    compute: ActorPoolStrategy | TaskPoolStrategy | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.spec.name

    @property
    def inputs(self) -> tuple[LogicalOp, ...]:  # type: ignore[override]
        return (self.input,)


# An all-to-all operator's work: given every input's bundles, submit tasks, return output bundles.
AllToAllFn = Callable[[list[list[RefBundle]]], list[RefBundle]]


@dataclass(eq=False)
class AllToAll(LogicalOp):
    name: str
    inputs: tuple[LogicalOp, ...]  # type: ignore[misc]
    fn: AllToAllFn


@dataclass(eq=False)
class Limit(LogicalOp):
    input: LogicalOp
    limit: int

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"limit={self.limit}"

    @property
    def inputs(self) -> tuple[LogicalOp, ...]:  # type: ignore[override]
        return (self.input,)


@dataclass(eq=False)
class Union(LogicalOp):
    inputs: tuple[LogicalOp, ...]  # type: ignore[misc]
    name: str = "Union"


def describe(op: LogicalOp) -> str:
    """The plan as Ray prints it: `ReadRange -> MapBatches(f) -> Filter(g)`."""
    if not op.inputs:
        return op.name
    if len(op.inputs) == 1:
        return f"{describe(op.inputs[0])} -> {op.name}"
    return f"{op.name}({', '.join(describe(i) for i in op.inputs)})"
