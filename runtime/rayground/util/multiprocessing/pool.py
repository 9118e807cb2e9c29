"""`Pool`: Python's `multiprocessing.Pool` on the cluster's actors, as `ray.util.multiprocessing`.

    from rayground.util.multiprocessing import Pool

    with Pool() as pool:                                # one actor per CPU of the cluster
        print(pool.map(square, range(10)))

Data flow: the caller's items are cut into chunks (`chunksize` items each); each chunk goes to
one `_PoolActor` as one `run_batch` call, round robin over the actors. The actor runs the function
on every item of its chunk and returns the list of results, where an item that raised is kept as
a `_PoolTaskError` holding the exception (so one bad item does not lose its chunk's other
results). On the caller's side:

* `map`/`starmap`/`apply` and their `_async` forms return an `AsyncResult`; a daemon thread per
  `AsyncResult` waits for its chunks, calls `callback` (all results, once) or `error_callback`
  (the first exception), and marks it ready. `get()` raises the item's own exception: the
  user's type, not a RayTaskError, as multiprocessing does.
* `imap`/`imap_unordered` keep one chunk in flight per actor and send the next one to whichever
  actor finished, as the caller iterates (so an endless iterator works); no thread.

`maxtasksperchild` counts chunks: an actor that has taken that many is retired (it finishes what
it was sent, then exits) and a fresh one takes its place. `close()` retires every actor the same
way, `terminate()` kills them, `join()` waits until the retired ones are gone.

It uses only the public API (`remote`, `get`, `wait`, `kill`, `actor.exit_actor`), so the same
code runs on Ray. Differences from Ray's Pool are listed in docs/ray-compatibility.md.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from multiprocessing import TimeoutError
from typing import Any

import rayground

__all__ = ["AsyncResult", "IMapIterator", "Pool", "TimeoutError"]

logger = logging.getLogger(__name__)

# How long a result thread blocks in one `wait` before it checks that the cluster is still up.
_POLL_S = 1.0

_Batch = list[tuple[tuple, dict]]  # (args, kwargs) of each item of one chunk


class _PoolTaskError(Exception):
    """An item's exception, carried back inside its chunk's result list."""

    def __init__(self, underlying: BaseException) -> None:
        super().__init__(underlying)
        self.underlying = underlying


@rayground.remote(num_cpus=0)
class _PoolActor:
    """One of the pool's processes: runs the initializer once, then chunks of calls."""

    def __init__(self, initializer: Callable[..., Any] | None, initargs: Iterable[Any]) -> None:
        if initializer is not None:
            initializer(*(initargs or ()))

    def ping(self) -> None:
        """Answered once __init__ (the initializer) has run."""

    def run_batch(self, func: Callable[..., Any], batch: _Batch) -> list[Any]:
        results: list[Any] = []
        for args, kwargs in batch:
            try:
                results.append(func(*(args or ()), **(kwargs or {})))
            except Exception as exc:
                results.append(_PoolTaskError(exc))
        return results

    def retire(self) -> None:
        """Queued after the actor's last chunk: it exits once every chunk before it is done."""
        rayground.actor.exit_actor()


def _first_error(batch: list[Any]) -> BaseException | None:
    for item in batch:
        if isinstance(item, _PoolTaskError):
            return item.underlying
        if isinstance(item, BaseException):
            return item
    return None


def _fetch(ref: Any) -> list[Any]:
    """A finished chunk's results; a chunk whose actor died is one error for the whole chunk."""
    try:
        return list(rayground.get(ref))
    except rayground.exceptions.RayError as exc:
        return [exc]


class AsyncResult:
    """The result of `apply_async`/`map_async`/`starmap_async`, as multiprocessing's."""

    def __init__(
        self,
        chunk_refs: list[Any],
        callback: Callable[[Any], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
        single_result: bool = False,
    ) -> None:
        self._chunk_refs = chunk_refs
        self._callback = callback
        self._error_callback = error_callback
        self._single_result = single_result
        self._batches: list[list[Any] | None] = [None] * len(chunk_refs)
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._collect, name="rayground-pool-result", daemon=True
        )
        self._thread.start()

    def _collect(self) -> None:
        index_of = {ref: i for i, ref in enumerate(self._chunk_refs)}
        pending = list(self._chunk_refs)
        try:
            while pending:
                if not rayground.is_initialized():
                    raise rayground.exceptions.RayError(
                        "The cluster was shut down before the pool's results came back."
                    )
                ready, pending = rayground.wait(pending, num_returns=1, timeout=_POLL_S)
                for ref in ready:
                    batch = _fetch(ref)
                    self._batches[index_of[ref]] = batch
                    error = _first_error(batch)
                    if error is not None and self._error is None:
                        # As multiprocessing: the error callback hears of the first failure.
                        self._error = error
                        if self._error_callback is not None:
                            self._error_callback(error)
        except Exception as exc:  # the cluster went away: get() says so
            if self._error is None:
                self._error = exc
        finally:
            if self._error is None and self._callback is not None:
                self._callback(self._values())
            self._done.set()

    def _values(self) -> Any:
        values = [v for batch in self._batches for v in batch or ()]
        return values[0] if self._single_result else values

    def wait(self, timeout: float | None = None) -> None:
        """Block until the result is ready or `timeout` seconds pass (never raises)."""
        self._done.wait(timeout)

    def get(self, timeout: float | None = None) -> Any:
        """The result (a list for the map forms); raises the first item's exception, or
        multiprocessing.TimeoutError when it is not ready within `timeout` seconds."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"The pool's result was not ready within {timeout} s")
        if self._error is not None:
            # In order of the items, as multiprocessing reports them.
            for batch in self._batches:
                error = _first_error(batch or [])
                if error is not None:
                    raise error
            raise self._error
        return self._values()

    def ready(self) -> bool:
        return self._done.is_set()

    def successful(self) -> bool:
        """Whether every call succeeded; ValueError while the result is not ready."""
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._error is None


class IMapIterator:
    """The results of `imap` (in order) or `imap_unordered` (as they finish).

    One chunk per actor is in flight; each finished chunk sends the next one out, so the input
    is read only as fast as the pool works through it."""

    def __init__(
        self,
        pool: Pool,
        func: Callable[..., Any],
        iterable: Iterable[Any],
        chunksize: int | None,
        ordered: bool,
    ) -> None:
        self._pool = pool
        self._func = func
        self._items = iter(iterable)
        self._chunksize = chunksize or 1
        self._ordered = ordered
        self._exhausted = False
        self._in_flight: dict[Any, tuple[int, int]] = {}  # chunk ref -> (chunk index, actor)
        self._finished: dict[int, list[Any]] = {}  # chunk index -> results, not yet yielded
        self._next_chunk = 0  # index given to the next chunk sent
        self._next_yield = 0  # ordered: the chunk whose results come next
        self._ready: collections.deque[Any] = collections.deque()
        for actor_index in range(len(pool._actors)):
            self._send(actor_index)

    def _send(self, actor_index: int) -> None:
        if self._exhausted:
            return
        chunk = list(itertools.islice(self._items, self._chunksize))
        if len(chunk) < self._chunksize:
            self._exhausted = True
        if not chunk:
            return
        ref = self._pool._run_batch(actor_index, self._func, [((x,), {}) for x in chunk])
        self._in_flight[ref] = (self._next_chunk, actor_index)
        self._next_chunk += 1

    def __iter__(self) -> IMapIterator:
        return self

    def __next__(self) -> Any:
        return self.next()

    def next(self, timeout: float | None = None) -> Any:
        """The next result; multiprocessing.TimeoutError if none comes within `timeout` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready:
            if self._ordered and self._next_yield in self._finished:
                self._ready.extend(self._finished.pop(self._next_yield))
                self._next_yield += 1
                continue
            if not self._in_flight:
                raise StopIteration
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, _ = rayground.wait(list(self._in_flight), num_returns=1, timeout=left)
            if not done:
                raise TimeoutError(f"No result came back within {timeout} s")
            chunk_index, actor_index = self._in_flight.pop(done[0])
            self._send(actor_index)  # keep that actor busy
            batch = _fetch(done[0])
            if self._ordered:
                self._finished[chunk_index] = batch
            else:
                self._ready.extend(batch)
        item = self._ready.popleft()
        if isinstance(item, _PoolTaskError):
            raise item.underlying
        if isinstance(item, BaseException):
            raise item
        return item


class Pool:
    """A pool of actor processes, with the interface of `multiprocessing.Pool`.

    Args:
        processes: how many actors; default: every CPU of the cluster (started with that many
            CPUs if none is running).
        initializer, initargs: `initializer(*initargs)` runs once in each actor as it starts.
        maxtasksperchild: retire an actor after it ran this many chunks and start a new one.
        context: accepted for multiprocessing's signature and ignored (with a warning).
        ray_address: the cluster to join when none is connected (`init(address=...)`).
        ray_remote_args: options for the actors, e.g. `{"num_cpus": 1}`.
    """

    def __init__(
        self,
        processes: int | None = None,
        initializer: Callable[..., Any] | None = None,
        initargs: Iterable[Any] | None = None,
        maxtasksperchild: int | None = None,
        context: Any = None,
        ray_address: str | None = None,
        ray_remote_args: dict[str, Any] | None = None,
    ) -> None:
        if context is not None:
            logger.warning(
                "The 'context' argument is not supported by a cluster Pool and is ignored: the "
                "cluster starts the processes. Pass ray_remote_args to configure them."
            )
        if maxtasksperchild in (0, -1):  # as Ray: no limit, like None
            maxtasksperchild = None
        if maxtasksperchild is not None and (
            not isinstance(maxtasksperchild, int) or maxtasksperchild < 1
        ):
            raise ValueError(
                f"maxtasksperchild must be an int >= 1 (or None for no limit), got "
                f"{maxtasksperchild!r}"
            )
        self._closed = False
        self._initializer = initializer
        self._initargs = tuple(initargs or ())
        self._maxtasksperchild = maxtasksperchild
        self._actor_class = _PoolActor.options(**(ray_remote_args or {}))
        self._retiring: list[Any] = []  # refs of `retire` calls of actors on their way out
        self._next_index = -1  # apply_async goes round robin
        processes = self._connect(processes, ray_address)
        self._actors: list[list[Any]] = [self._new_actor() for _ in range(processes)]
        # Every actor has run its initializer before the pool is handed out.
        rayground.get([actor.ping.remote() for actor, _ in self._actors])

    @staticmethod
    def _connect(processes: int | None, ray_address: str | None) -> int:
        if not rayground.is_initialized():
            env_address = os.environ.get("RAYGROUND_ADDRESS") or os.environ.get("RAY_ADDRESS")
            address = ray_address if ray_address is not None else env_address
            if address is None or address == "local":
                rayground.init(address=address, num_cpus=processes)
            else:
                rayground.init(address=address)
        cpus = int(rayground.cluster_resources().get("CPU", 0))
        if processes is None:
            processes = cpus
        if processes <= 0:
            raise ValueError("Processes in the pool must be >0.")
        if cpus < processes:
            raise ValueError(
                f"Tried to start a pool with {processes} processes on an existing ray cluster, "
                f"but there are only {cpus} CPUs in the ray cluster. Ask for at most {cpus} "
                "processes, or start the cluster with more CPUs."
            )
        return processes

    # ------------------------------------------------------------------ the actors
    def _new_actor(self) -> list[Any]:
        return [self._actor_class.remote(self._initializer, self._initargs), 0]

    def _retire(self, actor: Any) -> None:
        _, self._retiring = rayground.wait(
            self._retiring, num_returns=len(self._retiring), timeout=0
        )
        self._retiring.append(actor.retire.remote())

    def _run_batch(self, actor_index: int, func: Callable[..., Any], batch: _Batch) -> Any:
        entry = self._actors[actor_index]
        ref = entry[0].run_batch.remote(func, batch)
        entry[1] += 1
        if self._maxtasksperchild is not None and entry[1] >= self._maxtasksperchild:
            self._retire(entry[0])
            self._actors[actor_index] = self._new_actor()
        return ref

    def _check_running(self) -> None:
        if self._closed:
            raise ValueError("Pool not running")

    # ------------------------------------------------------------------ one call
    def apply(self, func: Callable[..., Any], args: tuple = (), kwargs: dict | None = None) -> Any:
        """`func(*args, **kwargs)` on one of the actors; waits for the result."""
        return self.apply_async(func, args, kwargs).get()

    def apply_async(
        self,
        func: Callable[..., Any],
        args: tuple = (),
        kwargs: dict | None = None,
        callback: Callable[[Any], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
    ) -> AsyncResult:
        """`func(*args, **kwargs)` on the next actor; `callback(result)` or
        `error_callback(exception)` runs in a background thread when it is done."""
        self._check_running()
        self._next_index = (self._next_index + 1) % len(self._actors)
        ref = self._run_batch(self._next_index, func, [(tuple(args or ()), kwargs or {})])
        return AsyncResult([ref], callback, error_callback, single_result=True)

    # ------------------------------------------------------------------ many calls
    def _chunksize(self, n_items: int) -> int:
        # As multiprocessing: about four chunks per process.
        chunksize, extra = divmod(n_items, len(self._actors) * 4)
        return chunksize + 1 if extra else chunksize

    def _map_async(
        self,
        func: Callable[..., Any],
        iterable: Iterable[Any],
        chunksize: int | None,
        unpack_args: bool,
        callback: Callable[[Any], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
    ) -> AsyncResult:
        self._check_running()
        items = list(iterable)
        if chunksize is None:
            chunksize = self._chunksize(len(items))
        if not isinstance(chunksize, int) or (chunksize < 1 and items):
            raise ValueError(f"chunksize must be an int >= 1, got {chunksize!r}")
        refs = []
        for start in range(0, len(items), max(chunksize, 1)):
            chunk = items[start : start + chunksize]
            batch = [(tuple(x) if unpack_args else (x,), {}) for x in chunk]
            refs.append(self._run_batch(len(refs) % len(self._actors), func, batch))
        return AsyncResult(refs, callback, error_callback)

    def map(
        self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None = None
    ) -> list[Any]:
        """`[func(x) for x in iterable]`, spread over the actors in chunks; raises the first
        item's exception."""
        return self._map_async(func, iterable, chunksize, unpack_args=False).get()

    def map_async(
        self,
        func: Callable[..., Any],
        iterable: Iterable[Any],
        chunksize: int | None = None,
        callback: Callable[[list[Any]], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
    ) -> AsyncResult:
        return self._map_async(func, iterable, chunksize, False, callback, error_callback)

    def starmap(
        self,
        func: Callable[..., Any],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = None,
    ) -> list[Any]:
        """`[func(*args) for args in iterable]`."""
        return self._map_async(func, iterable, chunksize, unpack_args=True).get()

    def starmap_async(
        self,
        func: Callable[..., Any],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = None,
        callback: Callable[[list[Any]], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
    ) -> AsyncResult:
        return self._map_async(func, iterable, chunksize, True, callback, error_callback)

    def imap(
        self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None = 1
    ) -> IMapIterator:
        """Results in order, one chunk per actor in flight; reads `iterable` lazily."""
        self._check_running()
        return IMapIterator(self, func, iterable, chunksize, ordered=True)

    def imap_unordered(
        self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None = 1
    ) -> IMapIterator:
        """As `imap`, but each result as soon as it is ready."""
        self._check_running()
        return IMapIterator(self, func, iterable, chunksize, ordered=False)

    # ------------------------------------------------------------------ ending
    def __enter__(self) -> Pool:
        self._check_running()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.terminate()

    def close(self) -> None:
        """Take no more work; the actors finish what they were given, then exit."""
        if self._closed:
            return
        for actor, _ in self._actors:
            self._retire(actor)
        self._closed = True

    def terminate(self) -> None:
        """Take no more work and kill the actors now; unfinished calls fail."""
        self.close()
        for actor, _ in self._actors:
            rayground.kill(actor)

    def join(self) -> None:
        """Wait until the actors of a closed pool have exited."""
        if not self._closed:
            raise ValueError("Pool is still running")
        if self._retiring:
            rayground.wait(self._retiring, num_returns=len(self._retiring))
            self._retiring = []

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running"
        return f"<rayground.util.multiprocessing.Pool {state}, {len(self._actors)} processes>"
