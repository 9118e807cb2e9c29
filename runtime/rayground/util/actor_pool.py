"""ActorPool: spread work over a fixed set of actors, as `ray.util.ActorPool`.

The pool hands each submitted value to an idle actor through a function `fn(actor, value)` that
returns the call's ObjectRef. An actor counts as busy until its result is taken back with
`get_next` or `get_next_unordered` (or skipped after a timeout); submissions made while every
actor is busy wait in the pool and go out as actors come back. It is built only on the public
API (`wait`, `get`, actor handles), so it behaves the same on either runtime.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._core import api
from .._core.object_ref import ObjectRef

_Submission = Callable[[Any, Any], Any]


class ActorPool:
    """Operate on a fixed pool of actors.

    pool = ActorPool([Worker.remote(), Worker.remote()])
    print(list(pool.map(lambda a, v: a.double.remote(v), [1, 2, 3, 4])))  # [2, 4, 6, 8]
    """

    def __init__(self, actors: list) -> None:
        self._idle: list = list(actors)
        self._in_flight: dict[Any, tuple[int, Any]] = {}  # result key -> (index, actor)
        self._by_index: dict[int, Any] = {}  # submission index -> result key
        self._next_index = 0  # given to the next call that goes out
        # Submissions waiting for an idle actor, oldest first.
        self._queued: collections.deque[tuple[_Submission, Any]] = collections.deque()

    # ------------------------------------------------------------------ submitting
    def submit(self, fn: _Submission, value: Any) -> None:
        """Run `fn(actor, value)` on an idle actor now, or as soon as one comes back."""
        if self._idle:
            actor = self._idle[-1]
            key = _result_key(fn(actor, value))  # if this raises, the actor stays idle
            self._idle.pop()
            self._in_flight[key] = (self._next_index, actor)
            self._by_index[self._next_index] = key
            self._next_index += 1
        else:
            self._queued.append((fn, value))

    def map(self, fn: _Submission, values: Iterable[Any]) -> Iterator[Any]:
        """Submit `fn(actor, v)` for every value; iterate to get the results in order.

        Results still pending from earlier submissions are dropped first, as in Ray."""
        return self._map(fn, values, self.get_next)

    def map_unordered(self, fn: _Submission, values: Iterable[Any]) -> Iterator[Any]:
        """As `map`, but each result comes as soon as it is ready."""
        return self._map(fn, values, self.get_next_unordered)

    def _map(
        self, fn: _Submission, values: Iterable[Any], take: Callable[[], Any]
    ) -> Iterator[Any]:
        self._drop_pending()
        for value in values:  # all submitted now, not as the results are read
            self.submit(fn, value)

        def results() -> Iterator[Any]:
            while self.has_next():
                yield take()

        return results()

    # ------------------------------------------------------------------ results
    def has_next(self) -> bool:
        """Whether any submitted work has a result still to be taken."""
        return bool(self._in_flight)

    def get_next(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """The next result in submission order, waiting up to `timeout` seconds for it.

        Raises StopIteration when nothing is pending and TimeoutError when the wait runs out;
        with `ignore_if_timedout`, that submission is skipped (its actor comes back to the
        pool) before the error is raised. A call that failed raises its error here."""
        if not self.has_next():
            raise StopIteration("No more results to get")
        # The oldest call still out (unordered takes may have left gaps before it).
        key = self._by_index[min(self._by_index)]
        if timeout is not None:
            ready, _ = api.wait([_last_ref(key)], num_returns=1, timeout=timeout)
            if not ready:
                if ignore_if_timedout:
                    skipped = self._take(key)
                    raise TimeoutError(
                        f"Timed out after {timeout} s waiting for result {skipped}; it has been "
                        "skipped"
                    )
                raise TimeoutError(f"Timed out after {timeout} s waiting for the next result")
        self._take(key)
        return api.get(_as_get_arg(key))

    def get_next_unordered(
        self, timeout: float | None = None, ignore_if_timedout: bool = False
    ) -> Any:
        """Whichever pending result is ready first, waiting up to `timeout` seconds.

        Raises StopIteration when nothing is pending and TimeoutError when the wait runs out
        (nothing is skipped: `ignore_if_timedout` is accepted for Ray's signature)."""
        del ignore_if_timedout  # with no order to keep, there is nothing to skip past
        if not self.has_next():
            raise StopIteration("No more results to get")
        by_last_ref = {_last_ref(key): key for key in self._in_flight}
        ready, _ = api.wait(list(by_last_ref), num_returns=1, timeout=timeout)
        if not ready:
            raise TimeoutError(f"Timed out after {timeout} s waiting for any result")
        key = by_last_ref[ready[0]]
        self._take(key)
        return api.get(_as_get_arg(key))

    # ------------------------------------------------------------------ the actors
    def has_free(self) -> bool:
        """Whether an actor is idle and no submission is waiting for one."""
        return bool(self._idle) and not self._queued

    def pop_idle(self) -> Any | None:
        """Take an idle actor out of the pool (None if every actor is busy)."""
        return self._idle.pop() if self.has_free() else None

    def push(self, actor: Any) -> None:
        """Add an actor to the pool; it takes waiting submissions first."""
        busy = [a for _, a in self._in_flight.values()]
        if actor in self._idle or actor in busy:
            raise ValueError("Actor already belongs to current ActorPool")
        self._return_actor(actor)

    # ------------------------------------------------------------------ internals
    def _take(self, key: Any) -> int:
        """Forget `key`'s call and give its actor back; returns its submission index."""
        index, actor = self._in_flight.pop(key)
        del self._by_index[index]
        self._return_actor(actor)
        return index

    def _return_actor(self, actor: Any) -> None:
        self._idle.append(actor)
        if self._queued:
            fn, value = self._queued.popleft()
            self.submit(fn, value)

    def _drop_pending(self) -> None:
        while self.has_next():
            try:
                self.get_next(timeout=0, ignore_if_timedout=True)
            except Exception:  # skipped while running, or failed: dropped with its error
                pass


def _result_key(result: Any) -> Any:
    if isinstance(result, ObjectRef):
        return result
    if (
        isinstance(result, (list, tuple))
        and result
        and all(isinstance(r, ObjectRef) for r in result)
    ):
        return tuple(result)  # a method with num_returns > 1
    raise TypeError(
        "ActorPool: the function given to submit/map must return the ObjectRef of an actor "
        f"call, e.g. `lambda actor, v: actor.method.remote(v)`; it returned "
        f"{type(result).__name__}. (Did you forget `.remote`?)"
    )


def _last_ref(key: Any) -> ObjectRef:
    return key[-1] if isinstance(key, tuple) else key


def _as_get_arg(key: Any) -> Any:
    return list(key) if isinstance(key, tuple) else key
