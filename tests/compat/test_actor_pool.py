"""ray.util.ActorPool: ordered and unordered maps, submit/get_next, timeouts, errors, and adding
and removing actors, held to the same assertions on both backends."""

from __future__ import annotations

import time

import pytest


@pytest.fixture(scope="module")
def pool_parts(ray):
    @ray.remote
    class Doubler:
        def double(self, v):
            return 2 * v

        def slow_double(self, v, seconds):
            time.sleep(seconds)
            return 2 * v

        def fail(self, v):
            raise ValueError(f"bad value {v}")

        def pid(self):
            import os

            return os.getpid()

    actors = [Doubler.remote() for _ in range(2)]
    ray.get([a.pid.remote() for a in actors], timeout=60)  # both running before any timing
    return actors


def _pool(ray, actors):
    return ray.util.ActorPool(list(actors))


def test_map_returns_results_in_order(ray, pool_parts):
    pool = _pool(ray, pool_parts)
    # More values than actors: the rest wait for an actor to come back.
    assert list(pool.map(lambda a, v: a.double.remote(v), range(7))) == [0, 2, 4, 6, 8, 10, 12]
    assert not pool.has_next()


def test_map_unordered_returns_every_result_fastest_first(ray, pool_parts):
    pool = _pool(ray, pool_parts)
    values = [(1, 1.0), (2, 0.0)]
    results = list(pool.map_unordered(lambda a, v: a.slow_double.remote(v[0], v[1]), values))
    assert results == [4, 2]


def test_submit_and_get_next(ray, pool_parts):
    pool = _pool(ray, pool_parts)
    assert pool.has_free()
    for v in (1, 2, 3):  # the third waits for an idle actor
        pool.submit(lambda a, v: a.double.remote(v), v)
    assert not pool.has_free()
    assert pool.has_next()
    assert [pool.get_next(timeout=30) for _ in range(3)] == [2, 4, 6]
    assert not pool.has_next()
    with pytest.raises(StopIteration):
        pool.get_next()
    with pytest.raises(StopIteration):
        pool.get_next_unordered()


def test_get_next_unordered_takes_whichever_is_ready(ray, pool_parts):
    pool = _pool(ray, pool_parts)
    pool.submit(lambda a, v: a.slow_double.remote(v, 1.0), 1)
    pool.submit(lambda a, v: a.slow_double.remote(v, 0.0), 2)
    assert pool.get_next_unordered(timeout=30) == 4
    assert pool.get_next_unordered(timeout=30) == 2


def test_get_next_timeout(ray, pool_parts):
    pool = _pool(ray, pool_parts)
    pool.submit(lambda a, v: a.slow_double.remote(v, 1.0), 5)
    with pytest.raises(TimeoutError):
        pool.get_next(timeout=0.05)
    assert pool.has_next()  # still pending: a later get_next returns it
    assert pool.get_next(timeout=30) == 10


def test_get_next_timeout_can_skip_the_late_result(ray, pool_parts):
    pool = _pool(ray, pool_parts)
    pool.submit(lambda a, v: a.slow_double.remote(v, 1.0), 5)
    pool.submit(lambda a, v: a.double.remote(v), 6)
    with pytest.raises(TimeoutError):
        pool.get_next(timeout=0.05, ignore_if_timedout=True)
    assert pool.get_next(timeout=30) == 12  # the skipped one is never returned
    assert not pool.has_next()


def test_a_failed_call_raises_from_get_next_and_the_actor_stays_usable(ray, pool_parts):
    pool = _pool(ray, pool_parts)
    pool.submit(lambda a, v: a.fail.remote(v), 7)
    with pytest.raises(ValueError, match="bad value 7"):
        pool.get_next(timeout=30)
    assert list(pool.map(lambda a, v: a.double.remote(v), [1, 2])) == [2, 4]


def test_pop_idle_and_push(ray, pool_parts):
    pool = _pool(ray, pool_parts)
    first = pool.pop_idle()
    second = pool.pop_idle()
    assert first is not None and second is not None
    assert pool.pop_idle() is None
    assert not pool.has_free()
    pool.submit(lambda a, v: a.double.remote(v), 21)  # waits: no actor in the pool
    pool.push(first)  # takes the waiting submission at once
    assert pool.get_next(timeout=30) == 42
    with pytest.raises(ValueError):
        pool.push(first)
    pool.push(second)
    assert list(pool.map(lambda a, v: a.double.remote(v), [3, 4, 5])) == [6, 8, 10]
