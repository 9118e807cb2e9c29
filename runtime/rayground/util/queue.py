"""Queue: a first-in first-out queue shared by tasks and actors, as `ray.util.queue.Queue`.

The items live in an async actor, so any process holding the Queue (it can be passed to tasks and
actors like a handle) can put and get, and a blocked `get` waits inside the actor without
holding a worker's CPU. Built only on the public API, so it behaves the same on either runtime.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Iterable
from typing import Any

from .._core import api

__all__ = ["Empty", "Full", "Queue"]


class Empty(queue.Empty):
    """Raised by `get` with nothing to take (at once, or within its timeout)."""


class Full(queue.Full):
    """Raised by `put` with no room (at once, or within its timeout)."""


class Queue:
    """A FIFO queue for tasks and actors; `maxsize` <= 0 means unbounded.

        q = Queue(maxsize=100)
        consumer.remote(q)      # pass it like an actor handle
        q.put(item); q.get(timeout=5)

    `actor_options` are given to the actor that holds the items (e.g. `{"num_cpus": 0}`).
    """

    def __init__(self, maxsize: int = 0, actor_options: dict | None = None) -> None:
        from .. import remote

        self.maxsize = maxsize
        self.actor: Any = remote(_QueueActor).options(**(actor_options or {})).remote(maxsize)

    def __len__(self) -> int:
        return self.size()

    def size(self) -> int:
        """How many items are in the queue now."""
        return api.get(self._live_actor().qsize.remote())

    def qsize(self) -> int:
        return self.size()

    def empty(self) -> bool:
        return api.get(self._live_actor().empty.remote())

    def full(self) -> bool:
        return api.get(self._live_actor().full.remote())

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Add `item`; if the queue is full, wait (up to `timeout` s) for room, or raise Full."""
        actor = self._live_actor()
        if not block:
            api.get(actor.put_nowait.remote(item))
            return
        _check_timeout(timeout)
        api.get(actor.put.remote(item, timeout))

    async def put_async(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        actor = self._live_actor()
        if not block:
            await actor.put_nowait.remote(item)
            return
        _check_timeout(timeout)
        await actor.put.remote(item, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Take the oldest item; if there is none, wait (up to `timeout` s) or raise Empty."""
        actor = self._live_actor()
        if not block:
            return api.get(actor.get_nowait.remote())
        _check_timeout(timeout)
        return api.get(actor.get.remote(timeout))

    async def get_async(self, block: bool = True, timeout: float | None = None) -> Any:
        actor = self._live_actor()
        if not block:
            return await actor.get_nowait.remote()
        _check_timeout(timeout)
        return await actor.get.remote(timeout)

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def put_nowait_batch(self, items: Iterable[Any]) -> None:
        """Add all of `items` in order, or none of them (Full) if they do not all fit."""
        if not isinstance(items, Iterable):
            raise TypeError(f"Argument 'items' must be an iterable, got {type(items).__name__}")
        api.get(self._live_actor().put_nowait_batch.remote(list(items)))

    def get_nowait_batch(self, num_items: int) -> list:
        """Take `num_items` items at once, or none (Empty) if there are fewer."""
        if not isinstance(num_items, int):
            raise TypeError(f"Argument 'num_items' must be an int, got {type(num_items).__name__}")
        if num_items < 0:
            raise ValueError("'num_items' must be non-negative")
        return api.get(self._live_actor().get_nowait_batch.remote(num_items))

    def shutdown(self, force: bool = False, grace_period_s: int = 5) -> None:
        """Stop the queue's actor; the items still in it are gone. Without `force`, calls sent
        before this one get up to `grace_period_s` seconds to finish first."""
        if self.actor is None:
            return
        if not force:
            api.wait([self.actor.qsize.remote()], num_returns=1, timeout=grace_period_s)
        api.kill(self.actor, no_restart=True)
        self.actor = None

    def _live_actor(self) -> Any:
        if self.actor is None:
            raise RuntimeError("This Queue was shut down; make a new Queue to go on.")
        return self.actor


class _QueueActor:
    """Holds the items; its methods run on the actor's event loop, so waits do not block it."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)

    def qsize(self) -> int:
        return self.queue.qsize()

    def empty(self) -> bool:
        return self.queue.empty()

    def full(self) -> bool:
        return self.queue.full()

    async def put(self, item: Any, timeout: float | None = None) -> None:
        try:
            await asyncio.wait_for(self.queue.put(item), timeout)
        except asyncio.TimeoutError:
            raise Full(f"no room in the queue (maxsize {self.maxsize}) in {timeout} s") from None

    async def get(self, timeout: float | None = None) -> Any:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            raise Empty(f"nothing to get from the queue within {timeout} s") from None

    async def put_nowait(self, item: Any) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            raise Full(f"the queue is full (maxsize {self.maxsize})") from None

    async def get_nowait(self) -> Any:
        try:
            return self.queue.get_nowait()
        except asyncio.QueueEmpty:
            raise Empty("the queue is empty") from None

    async def put_nowait_batch(self, items: list) -> None:
        if self.maxsize > 0 and len(items) + self.queue.qsize() > self.maxsize:
            raise Full(
                f"Cannot add {len(items)} items to a queue holding {self.queue.qsize()} with "
                f"maxsize {self.maxsize}"
            )
        for item in items:
            self.queue.put_nowait(item)

    async def get_nowait_batch(self, num_items: int) -> list:
        if num_items > self.queue.qsize():
            raise Empty(f"Cannot get {num_items} items from a queue holding {self.queue.qsize()}")
        return [self.queue.get_nowait() for _ in range(num_items)]


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
