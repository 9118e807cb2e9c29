"""The streaming executor: turns a logical plan into physical operators and pulls blocks through
them, with a bound on the work each operator has in flight.

    consumer (take/iter_batches/write...)
        ▲ next()
    LimitOp ◄── ActorMapOp ◄── TaskMapOp ◄── source (read tasks | blocks in the store)
                 (actor calls)   (tasks: read + fused chain, one per block)

Every physical operator is a generator over `RefBundle`s. An operator asks its upstream for a
block only while it has fewer than `max_in_flight` tasks out, and hands its outputs on in input
order. So the blocks alive at any time are bounded by (in-flight tasks per operator x operators +
what the consumer holds), whatever the size of the data: a dataset many times the object store
streams through it. Stopping early (take, limit) simply stops pulling; in-flight results are
dropped and their objects freed by reference counting.

Library code: only rayground's public API (tasks, actors, put/get/wait) is used here.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import rayground

from . import plan as lp
from .block import BlockMetadata
from .context import DataContext
from .file_io import shuffled
from .plan import RefBundle
from .progress import ProgressReporter
from .stats import DatasetStats, OpStats
from .status_board import DataStatus
from .transform import MapSpec, MapWorker, run_chain

_run_chain_task = rayground.remote(run_chain)


def ensure_initialized() -> None:
    """Ray Data starts a local cluster on first use; so do we."""
    if not rayground.is_initialized():
        rayground.init()


def cluster_cpus() -> int:
    return max(1, int(rayground.cluster_resources().get("CPU", 1)))


def default_in_flight() -> int:
    ctx = DataContext.get_current()
    if ctx.max_tasks_in_flight_per_operator is not None:
        return max(1, ctx.max_tasks_in_flight_per_operator)
    return 2 * cluster_cpus()


@dataclass
class PhysicalOp:
    name: str
    upstreams: list[PhysicalOp] = field(default_factory=list)
    stats: OpStats = field(init=False)

    def __post_init__(self) -> None:
        self.stats = OpStats(self.name)

    def run(self) -> Iterator[RefBundle]:
        raise NotImplementedError

    def _emit(self, bundle: RefBundle) -> RefBundle:
        self.stats.record(bundle.meta)
        return bundle


@dataclass
class InputOp(PhysicalOp):
    bundles: list[RefBundle] = field(default_factory=list)

    def run(self) -> Iterator[RefBundle]:
        for b in self.bundles:
            yield self._emit(b)


def _bundled(upstream: Iterator[RefBundle], min_rows: int | None) -> Iterator[list[RefBundle]]:
    """Upstream blocks grouped until a group holds `min_rows` rows (map_batches' batch_size)."""
    group: list[RefBundle] = []
    rows = 0
    for b in upstream:
        group.append(b)
        rows += b.meta.num_rows
        if min_rows is None or rows >= min_rows:
            yield group
            group, rows = [], 0
    if group:
        yield group


@dataclass
class TaskMapOp(PhysicalOp):
    """Read tasks and/or a fused chain of map steps, one task per (group of) input block(s)."""

    chain: tuple[MapSpec, ...] = ()
    read_tasks: list[Any] | None = None
    remote_args: dict[str, Any] = field(default_factory=dict)
    # TaskPoolStrategy(size=n): at most n of this operator's tasks at once (None: no cap).
    max_concurrency: int | None = None

    def can_fuse(self, op: lp.MapOp) -> bool:
        # A write with min_rows_per_file needs its blocks grouped: its own operator.
        grouped_write = op.spec.kind == "write" and op.spec.batch_size is not None
        return (
            not isinstance(op.compute, lp.ActorPoolStrategy)
            and op.remote_args == self.remote_args
            and not grouped_write
        )

    def fused(self, op: lp.MapOp) -> TaskMapOp:
        caps = [c for c in (self.max_concurrency, _task_cap(op)) if c is not None]
        return TaskMapOp(
            f"{self.name}->{op.name}",
            self.upstreams,
            chain=(*self.chain, op.spec),
            read_tasks=self.read_tasks,
            remote_args=self.remote_args,
            max_concurrency=min(caps) if caps else None,
        )

    def _inputs(self) -> Iterator[tuple[Any, list[RefBundle]]]:
        if self.read_tasks is not None:
            for task in self.read_tasks:
                yield task, []
            return
        first = self.chain[0] if self.chain else None
        grouped = first is not None and first.kind in ("map_batches", "write")
        min_rows = first.batch_size if grouped else None
        for group in _bundled(self.upstreams[0].run(), min_rows):
            yield None, group

    def _submit(self, chain_ref: Any, index: int, source: Any, group: list[RefBundle]) -> Any:
        options = {"name": self.name, "num_returns": 2, **self.remote_args}
        return _run_chain_task.options(**options).remote(
            chain_ref, index, source, *[b.block_ref for b in group]
        )

    def run(self) -> Iterator[RefBundle]:
        chain_ref = rayground.put(self.chain)
        limit = min(default_in_flight(), self.max_concurrency or default_in_flight())
        yield from _ordered(self, self._inputs(), limit, chain_ref, self._submit)


def _task_cap(op: lp.MapOp) -> int | None:
    return op.compute.size if isinstance(op.compute, lp.TaskPoolStrategy) else None


def _ordered(op: PhysicalOp, inputs: Iterator, limit: int, chain_ref: Any, submit: Any):
    """Submit while fewer than `limit` are out; hand results on in input order."""
    pending: deque[tuple[Any, Any]] = deque()
    index = 0
    exhausted = False
    while True:
        while not exhausted and len(pending) < limit:
            try:
                source, group = next(inputs)
            except StopIteration:
                exhausted = True
                break
            op.stats.tasks += 1
            pending.append(submit(chain_ref, index, source, group))
            index += 1
        if not pending:
            return
        block_ref, meta_ref = pending.popleft()
        meta: BlockMetadata = rayground.get(meta_ref)
        yield op._emit(RefBundle(block_ref, meta))


@dataclass
class ActorMapOp(TaskMapOp):
    """A callable class on a pool of actors (one constructor call per actor). Task steps just
    before it (a read, maps) run in the same actor call, as Ray fuses them."""

    strategy: lp.ActorPoolStrategy = field(default_factory=lp.ActorPoolStrategy)

    def run(self) -> Iterator[RefBundle]:
        lo, hi = self.strategy.bounds()
        hi = hi if hi is not None else max(lo, cluster_cpus())
        per_actor = (
            self.strategy.max_tasks_in_flight_per_actor
            or DataContext.get_current().max_tasks_in_flight_per_actor
        )
        worker_cls = rayground.remote(MapWorker)
        options = {"num_cpus": 1, **self.remote_args}
        chain_ref = rayground.put(self.chain)
        actors: list[Any] = []
        starting: dict[Any, int] = {}  # ready() ref -> actor slot, until the actor is up
        load: dict[int, int] = {}  # slot -> calls out, for actors that are up

        def add_actor() -> None:
            handle = worker_cls.options(**options).remote(chain_ref)
            starting[handle.ready.remote()] = len(actors)
            actors.append(handle)
            self.stats.actors += 1

        def settle(block: bool) -> None:
            """Move actors whose constructor finished into `load` (raising if one failed)."""
            if not starting:
                return
            done, _ = rayground.wait(
                list(starting),
                num_returns=1 if block else len(starting),
                timeout=None if block else 0,
            )
            for ref in done:
                rayground.get(ref)
                load[starting.pop(ref)] = 0

        pending: deque[tuple[int, Any, Any]] = deque()
        inputs = self._inputs()
        # Start the actors only once the first input is ready: an all-to-all upstream needs the
        # CPUs the actors would hold.
        first = next(inputs, None)
        if first is None:
            return
        inputs = itertools.chain([first], inputs)
        exhausted = False
        index = 0
        try:
            while True:
                while not exhausted:
                    if len(actors) < lo:
                        add_actor()
                        continue
                    settle(block=not load)
                    slot = min(load, key=load.__getitem__)
                    if load[slot] >= per_actor:
                        if len(actors) < hi and not starting:
                            add_actor()
                        break
                    try:
                        source, group = next(inputs)
                    except StopIteration:
                        exhausted = True
                        break
                    method = actors[slot].process.options(num_returns=2)
                    block_ref, meta_ref = method.remote(
                        index, source, *[b.block_ref for b in group]
                    )
                    self.stats.tasks += 1
                    pending.append((slot, block_ref, meta_ref))
                    load[slot] += 1
                    index += 1
                if not pending:
                    return
                slot, block_ref, meta_ref = pending.popleft()
                meta = rayground.get(meta_ref)
                load[slot] -= 1
                yield self._emit(RefBundle(block_ref, meta))
        finally:
            for handle in actors:
                rayground.kill(handle)


@dataclass
class AllToAllOp(PhysicalOp):
    fn: Any = None

    def run(self) -> Iterator[RefBundle]:
        gathered = [list(up.run()) for up in self.upstreams]
        start = time.perf_counter()
        outputs = self.fn(gathered)
        self.stats.wall_extra += time.perf_counter() - start
        for b in outputs:
            yield self._emit(b)


@dataclass
class LimitOp(PhysicalOp):
    limit: int = 0

    def run(self) -> Iterator[RefBundle]:
        remaining = self.limit
        if remaining <= 0:
            return
        for b in self.upstreams[0].run():
            if b.meta.num_rows <= remaining:
                remaining -= b.meta.num_rows
                yield self._emit(b)
            else:
                self.stats.tasks += 1
                block_ref, meta_ref = _slice_task.options(name=self.name, num_returns=2).remote(
                    b.block_ref, 0, remaining
                )
                remaining = 0
                yield self._emit(RefBundle(block_ref, rayground.get(meta_ref)))
            if remaining <= 0:
                return


def slice_block(block: Any, start: int, length: int) -> tuple[Any, BlockMetadata]:
    from .block import metadata_of

    out = block.slice(start, length)
    return out, metadata_of(out)


_slice_task = rayground.remote(slice_block)


@dataclass
class UnionOp(PhysicalOp):
    def run(self) -> Iterator[RefBundle]:
        for up in self.upstreams:
            for b in up.run():
                yield self._emit(b)


def compile_plan(op: lp.LogicalOp) -> PhysicalOp:
    if isinstance(op, lp.Read):
        tasks = shuffled(op.read_tasks, op.shuffle, op.executions)
        op.executions += 1
        return TaskMapOp(
            op.name,
            read_tasks=tasks,
            remote_args=dict(op.remote_args),
            max_concurrency=op.concurrency,
        )
    if isinstance(op, lp.InputData):
        return InputOp(op.name, bundles=op.bundles)
    if isinstance(op, lp.MapOp):
        up = compile_plan(op.input)
        if isinstance(op.compute, lp.ActorPoolStrategy):
            if type(up) is TaskMapOp and not up.remote_args:
                return ActorMapOp(
                    f"{up.name}->{op.name}",
                    up.upstreams,
                    chain=(*up.chain, op.spec),
                    read_tasks=up.read_tasks,
                    remote_args=dict(op.remote_args),
                    strategy=op.compute,
                )
            return ActorMapOp(
                op.name,
                [up],
                chain=(op.spec,),
                remote_args=dict(op.remote_args),
                strategy=op.compute,
            )
        if type(up) is TaskMapOp and up.can_fuse(op):
            return up.fused(op)
        return TaskMapOp(
            op.name,
            [up],
            chain=(op.spec,),
            remote_args=dict(op.remote_args),
            max_concurrency=_task_cap(op),
        )
    if isinstance(op, lp.Limit):
        return LimitOp(op.name, [compile_plan(op.input)], limit=op.limit)
    if isinstance(op, lp.AllToAll):
        return AllToAllOp(op.name, [compile_plan(i) for i in op.inputs], fn=op.fn)
    if isinstance(op, lp.Union):
        return UnionOp(op.name, [compile_plan(i) for i in op.inputs])
    raise TypeError(f"unknown logical operator {op!r}")  # pragma: no cover


def _walk(op: PhysicalOp) -> list[PhysicalOp]:
    out: list[PhysicalOp] = []
    for up in op.upstreams:
        out.extend(_walk(up))
    out.append(op)
    return out


def execute(
    op: lp.LogicalOp, stats: DatasetStats | None = None, progress: bool = True
) -> Iterator[RefBundle]:
    """Run the plan ending in `op`, yielding its output blocks as they are ready (in order)."""
    ensure_initialized()
    root = compile_plan(op)
    ops = _walk(root)
    if stats is not None:
        stats.begin([o.stats for o in ops])
    reporter = ProgressReporter.start([o.stats for o in ops], enabled=progress)
    status = DataStatus([o.stats for o in ops])
    failed = True
    try:
        for bundle in root.run():
            reporter.update()
            status.update()
            yield bundle
        failed = False
    except GeneratorExit:  # the consumer stopped early (take, limit): not a failure
        failed = False
        raise
    finally:
        if stats is not None:
            stats.end()
        reporter.close()
        status.close(failed)
