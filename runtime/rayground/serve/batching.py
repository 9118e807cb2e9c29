"""`@serve.batch`: calls of an async method that arrive close together run as one call on a
list, as in Ray Serve. Each caller awaits its own item's result.

    caller -> (item, future) on the instance's queue -> batcher task: wait for up to
    max_batch_size items or batch_wait_timeout_s after the first -> fn(self, items) -> results

Non-goals: generator (streaming) batches.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["batch"]


class _Batcher:
    def __init__(self, fn: Callable[..., Any], max_batch_size: int, timeout_s: float) -> None:
        self._fn = fn
        self.max_batch_size = max_batch_size
        self.timeout_s = timeout_s
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None

    async def submit(self, owner: Any, item: Any) -> Any:
        if self._queue is None:
            self._queue = asyncio.Queue()
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run(owner))
        return await future

    async def _run(self, owner: Any) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while not self._queue.empty():
            batch = [await self._queue.get()]
            deadline = loop.time() + self.timeout_s
            while len(batch) < self.max_batch_size:
                remaining = deadline - loop.time()
                if remaining <= 0 and self._queue.empty():
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), max(remaining, 0)))
                except asyncio.TimeoutError:
                    break
            items = [item for item, _ in batch]
            futures = [future for _, future in batch]
            try:
                args = (owner, items) if owner is not None else (items,)
                results = await self._fn(*args)
                if not isinstance(results, list | tuple) or len(results) != len(items):
                    raise TypeError(
                        f"Batched function {self._fn.__name__!r} returned "
                        f"{_describe(results)} for {len(items)} inputs; it must return a list "
                        "with one result per input, in order."
                    )
            except BaseException as exc:
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for future, result in zip(futures, results, strict=True):
                if not future.done():
                    future.set_result(result)


def _describe(results: Any) -> str:
    if isinstance(results, list | tuple):
        return f"{len(results)} results"
    return f"a {type(results).__name__}"


def batch(
    _func: Callable[..., Any] | None = None,
    *,
    max_batch_size: int = 10,
    batch_wait_timeout_s: float = 0.01,
    max_concurrent_batches: int = 1,
    batch_size_fn: Callable[..., Any] | None = None,
) -> Any:
    """Batch an `async def` method (or function) that takes a list and returns a list."""
    if (
        not isinstance(max_batch_size, int)
        or isinstance(max_batch_size, bool)
        or (max_batch_size < 1)
    ):
        raise ValueError(f"max_batch_size must be an int >= 1, got {max_batch_size!r}.")
    if not isinstance(batch_wait_timeout_s, int | float) or batch_wait_timeout_s < 0:
        raise ValueError(f"batch_wait_timeout_s must be >= 0, got {batch_wait_timeout_s!r}.")
    if max_concurrent_batches != 1 or batch_size_fn is not None:
        raise NotImplementedError(
            "rayground.serve.batch runs one batch at a time by item count; leave "
            "max_concurrent_batches and batch_size_fn out."
        )

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(
                f"Functions decorated with @serve.batch must be 'async def'; {fn.__name__!r} "
                "is not."
            )
        params = list(inspect.signature(fn).parameters)
        is_method = bool(params) and params[0] == "self"
        attr = f"_serve_batcher_{fn.__name__}"
        shared = _Batcher(fn, max_batch_size, batch_wait_timeout_s)

        if is_method:

            @functools.wraps(fn)
            async def method_wrapper(self: Any, item: Any) -> Any:
                batcher = self.__dict__.get(attr)
                if batcher is None:
                    batcher = self.__dict__[attr] = _Batcher(
                        fn, max_batch_size, batch_wait_timeout_s
                    )
                return await batcher.submit(self, item)

            return method_wrapper

        @functools.wraps(fn)
        async def function_wrapper(item: Any) -> Any:
            return await shared.submit(None, item)

        return function_wrapper

    if _func is not None:
        return decorate(_func)
    return decorate
