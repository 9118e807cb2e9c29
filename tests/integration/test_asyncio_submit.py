"""A call made on an asyncio event loop in the driver leaves as soon as the loop's step ends.

Code on an event loop awaits its refs instead of calling get()/wait(), which are what send the
queued submissions for everyone else; before the fix its calls waited for the client's I/O
thread to wake on its own (up to 20 ms per await: most of a Serve request's latency). These
tests take the I/O thread's sending away altogether (it still reads), so each await can only
finish if the loop sent the call itself: without that they would hang, and the bounded wait
fails them instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

import rayground as ray
from rayground._core import api

_BOUND_S = 10.0  # far above a call's round trip; only a call that never left reaches it


@ray.remote
def double(x):
    return 2 * x


@ray.remote
class Counter:  # sync, one call at a time: after the first call its calls go directly
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n


@ray.remote
class AsyncEcho:  # an asyncio actor: its calls go through the head
    async def echo(self, x):
        return x


@pytest.fixture(scope="module")
def client():
    ray.init(num_cpus=2)
    yield api.connected_client()
    ray.shutdown()


@contextlib.contextmanager
def io_thread_never_sends(client):
    """The I/O thread skips every flush (counted: it kept running and reading); others flush."""
    client.flush()
    io_thread = client._io_thread
    skipped = {"flushes": 0}

    def guarded(real):
        def call():
            if threading.current_thread() is io_thread:
                skipped["flushes"] += 1
                return
            real()

        return call

    client.flush, client._flush_due = guarded(client.flush), guarded(client._flush_due)
    try:
        yield skipped
    finally:
        del client.flush, client._flush_due  # the class's methods again
        client.flush()


def _await_all(coros):
    async def main():
        return await asyncio.wait_for(asyncio.gather(*coros), _BOUND_S)

    return asyncio.run(main())


def test_task_calls_from_a_loop_leave_without_the_io_thread(client):
    async def one(i):
        return await double.remote(i)

    async def chained():  # one await after another: each call must leave on its own
        total = 0
        for i in range(5):
            total += await double.remote(i)
        return total

    with io_thread_never_sends(client) as skipped:
        assert _await_all([one(i) for i in range(5)]) == [0, 2, 4, 6, 8]
        assert _await_all([chained()]) == [20]
    assert skipped["flushes"] > 0  # the I/O thread ran (it read the results) but sent nothing


def test_actor_calls_from_a_loop_leave_without_the_io_thread(client):
    counter, echo = Counter.remote(), AsyncEcho.remote()
    for _ in range(3):  # the first call goes through the head; later ones go directly
        ray.get([counter.add.remote(0), echo.echo.remote(None)])
    route = client.direct.routes.get(counter._actor_id)
    assert route is not None and route.channel is not None, "calls to Counter are not direct"

    async def sequence():
        seen = []
        for k in range(1, 4):
            seen.append(await counter.add.remote(k))
            seen.append(await echo.echo.remote(k))
        return seen

    with io_thread_never_sends(client) as skipped:
        assert _await_all([sequence()]) == [[1, 1, 3, 2, 6, 3]]
    assert skipped["flushes"] > 0
