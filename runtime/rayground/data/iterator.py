"""Consuming blocks as batches: re-batching across block edges (`iter_batches`), and
`DataIterator`, which `streaming_split` hands out, one per consumer.

`streaming_split(n)` runs the dataset once, in a coordinator actor, and deals its blocks to n
iterators that may live in other processes (training workers): iterator i asks the coordinator
for its next block. Each new pass over the iterators (an epoch) re-runs the dataset once all n
have finished the previous one.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

import rayground

from . import block as blocks
from .plan import RefBundle


def batches_from_bundles(
    bundles: Iterator[RefBundle],
    batch_size: int | None,
    batch_format: str | None,
    drop_last: bool = False,
    shuffle_buffer: int | None = None,
    shuffle_seed: int | None = None,
) -> Iterator[Any]:
    """Blocks fetched (zero-copy) as they stream in, cut and joined into `batch_size` rows."""
    rng = np.random.default_rng(shuffle_seed) if shuffle_buffer else None
    pending: deque[pa.Table] = deque()
    held = 0
    target = batch_size
    if rng is not None and batch_size is not None:
        target = max(batch_size, shuffle_buffer or 0)

    def take(n: int) -> pa.Table:
        nonlocal held
        parts = []
        while n > 0 and pending:
            head = pending[0]
            if head.num_rows <= n:
                parts.append(pending.popleft())
                n -= head.num_rows
                held -= head.num_rows
            else:
                parts.append(head.slice(0, n))
                pending[0] = head.slice(n)
                held -= n
                n = 0
        return blocks.concat(parts)

    def shuffled(t: pa.Table) -> pa.Table:
        if rng is None or t.num_rows < 2:
            return t
        return t.take(pa.array(rng.permutation(t.num_rows)))

    for bundle in bundles:
        table = rayground.get(bundle.block_ref)
        if table.num_rows == 0:
            continue
        if batch_size is None:
            yield blocks.to_batch(shuffled(table), batch_format)
            continue
        pending.append(table)
        held += table.num_rows
        while held >= (target or 0) and held >= batch_size:
            if rng is not None:
                pool = shuffled(take(held))
                pending.appendleft(pool)
                held += pool.num_rows
            yield blocks.to_batch(take(batch_size), batch_format)
    if batch_size is None:
        return
    while held >= batch_size:
        yield blocks.to_batch(shuffled(take(batch_size)), batch_format)
    if held and not drop_last:
        yield blocks.to_batch(shuffled(take(held)), batch_format)


class DataIterator:
    """Iterates a dataset (or one share of a `streaming_split`) by batches or rows."""

    def __init__(self, dataset: Any = None, coordinator: Any = None, split: int = 0) -> None:
        self._dataset = dataset
        self._coordinator = coordinator
        self._split = split
        self._epoch = 0

    def _bundles(self) -> Iterator[RefBundle]:
        if self._dataset is not None:
            yield from self._dataset._bundles()
            return
        epoch = self._epoch
        self._epoch += 1
        while True:
            reply = rayground.get(self._coordinator.next.remote(self._split, epoch))
            if reply == "wait":  # other shares are still finishing the previous epoch
                time.sleep(0.01)
                continue
            if reply is None:
                return
            block_ref, meta = reply[0], reply[1]
            yield RefBundle(block_ref, meta)

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
        batches = batches_from_bundles(
            self._bundles(),
            batch_size,
            batch_format,
            drop_last,
            local_shuffle_buffer_size,
            local_shuffle_seed,
        )
        return batches if _collate_fn is None else (_collate_fn(b) for b in batches)

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        for bundle in self._bundles():
            yield from blocks.to_rows(rayground.get(bundle.block_ref))

    def materialize(self) -> Any:
        """What this iterator yields, run once and kept in the object store."""
        if self._dataset is not None:
            return self._dataset.materialize()
        from . import plan as lp
        from .dataset import MaterializedDataset

        return MaterializedDataset(lp.InputData("StreamingSplit", list(self._bundles())))

    def stats(self) -> str:
        """The per-operator statistics of the dataset's last run (as `Dataset.stats()`)."""
        return self._dataset.stats() if self._dataset is not None else ""

    def __repr__(self) -> str:
        if self._coordinator is not None:
            return f"DataIterator(streaming_split share {self._split})"
        return f"DataIterator({self._dataset!r})"


class SplitCoordinator:
    """Actor: runs the dataset and deals its blocks to the n shares (to the share with the fewest
    rows so far when `equal`, else in turn)."""

    def __init__(self, op: Any, n: int, equal: bool) -> None:
        self.op = op
        self.n = n
        self.equal = equal
        self.epoch = -1
        self.finished: set[int] = set()
        self._start(0)

    def _start(self, epoch: int) -> None:
        from .executor import execute

        self.epoch = epoch
        self.finished = set()
        self.source = execute(self.op, progress=False)
        self.buffers: list[deque] = [deque() for _ in range(self.n)]
        self.rows = [0] * self.n
        self.turn = 0
        self.exhausted = False

    def next(self, split: int, epoch: int) -> Any:
        if epoch > self.epoch:
            if len(self.finished) < self.n:
                return "wait"
            self._start(epoch)
        while not self.buffers[split] and not self.exhausted:
            try:
                bundle = next(self.source)
            except StopIteration:
                self.exhausted = True
                break
            if self.equal:
                target = int(np.argmin(self.rows))
            else:
                target = self.turn % self.n
                self.turn += 1
            self.rows[target] += bundle.meta.num_rows
            self.buffers[target].append(bundle)
        if self.buffers[split]:
            bundle = self.buffers[split].popleft()
            return [bundle.block_ref, bundle.meta]
        self.finished.add(split)
        return None


def streaming_split(dataset: Any, n: int, equal: bool) -> list[DataIterator]:
    from .executor import ensure_initialized

    ensure_initialized()
    # num_cpus=0: the coordinator only submits and deals; its tasks need the CPUs.
    coordinator = (
        rayground.remote(SplitCoordinator).options(num_cpus=0).remote(dataset._op, n, equal)
    )
    return [DataIterator(coordinator=coordinator, split=i) for i in range(n)]
