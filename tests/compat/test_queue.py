"""ray.util.queue.Queue: FIFO order, blocking and non-blocking put/get with timeouts, batches, a
queue passed to tasks (producer and consumer), async use, and shutdown; the same assertions on
both backends."""

from __future__ import annotations

import asyncio
import importlib

import pytest


@pytest.fixture(scope="module")
def qmod(ray):
    return importlib.import_module(f"{ray.__name__}.util.queue")


def test_fifo_order_and_size(ray, qmod):
    q = qmod.Queue()
    assert q.empty() and q.size() == 0 and len(q) == 0
    for i in range(5):
        q.put(i)
    assert q.qsize() == 5 and not q.empty() and not q.full()
    assert [q.get(timeout=30) for _ in range(5)] == [0, 1, 2, 3, 4]
    q.shutdown()


def test_non_blocking_and_timeouts_on_a_bounded_queue(ray, qmod):
    q = qmod.Queue(maxsize=2)
    q.put_nowait("a")
    q.put("b", timeout=1)
    assert q.full()
    with pytest.raises(qmod.Full):
        q.put_nowait("c")
    with pytest.raises(qmod.Full):
        q.put("c", timeout=0.1)
    assert q.get_nowait() == "a"
    assert q.get(block=False) == "b"
    with pytest.raises(qmod.Empty):
        q.get_nowait()
    with pytest.raises(qmod.Empty):
        q.get(timeout=0.1)
    with pytest.raises(ValueError):
        q.get(timeout=-1)
    q.shutdown()


def test_batches_are_all_or_nothing(ray, qmod):
    q = qmod.Queue(maxsize=3)
    q.put_nowait_batch([1, 2])
    with pytest.raises(qmod.Full):
        q.put_nowait_batch([3, 4])  # would need 4 slots
    assert q.size() == 2
    with pytest.raises(qmod.Empty):
        q.get_nowait_batch(3)
    assert q.get_nowait_batch(2) == [1, 2]
    q.put_nowait_batch((5, 6))  # any iterable, not only a list
    assert q.get_nowait_batch(2) == [5, 6]
    with pytest.raises(TypeError):
        q.put_nowait_batch(7)
    q.shutdown()


def test_producer_and_consumer_tasks_share_a_queue(ray, qmod):
    q = qmod.Queue()

    @ray.remote
    def produce(queue, n):
        for i in range(n):
            queue.put(i)
        queue.put(None)  # the end
        return n

    @ray.remote
    def consume(queue):
        seen = []
        while (item := queue.get(timeout=30)) is not None:
            seen.append(item)
        return seen

    consumed = consume.remote(q)  # starts first: its get waits in the queue's actor
    assert ray.get(produce.remote(q, 20), timeout=60) == 20
    assert ray.get(consumed, timeout=60) == list(range(20))
    q.shutdown()


def test_async_put_and_get(ray, qmod):
    q = qmod.Queue()

    async def main():
        await q.put_async("x")
        await q.put_async("y", block=False)
        return [await q.get_async(timeout=30), await q.get_async(block=False)]

    assert asyncio.run(asyncio.wait_for(main(), timeout=60)) == ["x", "y"]
    q.shutdown()


def test_shutdown_stops_the_actor(ray, qmod):
    q = qmod.Queue()
    q.put(1)
    actor = q.actor
    q.shutdown()
    assert q.actor is None
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(actor.qsize.remote(), timeout=30)
    q.shutdown()  # a second time is harmless
