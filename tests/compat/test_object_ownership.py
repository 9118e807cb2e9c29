"""Ownership, as in Ray: an object made by `put()` inside a task or actor belongs to that worker
process and is lost when the process exits, although others still hold its ref; `get` then
raises OwnerDiedError (an ObjectLostError). Values returned from a task or method belong to the
caller, and a driver's own `put` outlives the actors it was handed to.

Ray learns of the owner's death asynchronously (a get right after `kill` may still succeed), so
the tests wait, boundedly, for the loss to show.
"""

from __future__ import annotations

import pytest

DEATH_S = 60.0


def _lost(ray, exc, ref) -> bool:
    try:
        ray.get(ref, timeout=DEATH_S)
    except exc.OwnerDiedError:
        return True
    return False


def _dead(ray, exc, call) -> bool:
    """Whether the actor is gone: a call fails with RayActorError (`kill` is asynchronous)."""
    try:
        ray.get(call(), timeout=DEATH_S)
    except exc.RayActorError:
        return True
    return False


def test_an_object_put_by_an_actor_is_lost_with_the_actor(ray, exc, wait_until):
    @ray.remote
    class Maker:
        def make(self):
            return [ray.put(list(range(10))), ray.put(b"x" * 300_000)]

    maker = Maker.remote()
    refs = ray.get(maker.make.remote(), timeout=DEATH_S)
    ray.kill(maker)
    wait_until(lambda: _dead(ray, exc, maker.make.remote), timeout=DEATH_S, message="death")
    for ref in refs:
        wait_until(lambda ref=ref: _lost(ray, exc, ref), timeout=DEATH_S, message="put lost")
        with pytest.raises(exc.OwnerDiedError, match="The object's owner has exited") as err:
            ray.get(ref, timeout=DEATH_S)
        assert isinstance(err.value, exc.ObjectLostError)
        assert ref.hex() in str(err.value)


def test_a_returned_value_outlives_the_actor(ray, exc, wait_until):
    @ray.remote
    class Maker:
        def make(self):
            return list(range(10)), b"x" * 300_000

    maker = Maker.remote()
    ref = maker.make.remote()
    ray.wait([ref], timeout=DEATH_S)
    ray.kill(maker)
    wait_until(lambda: _dead(ray, exc, maker.make.remote), timeout=DEATH_S, message="death")
    small, large = ray.get(ref, timeout=DEATH_S)  # the caller owns a method's return value
    assert small == list(range(10)) and len(large) == 300_000


def test_a_drivers_put_outlives_the_actor_it_was_given_to(ray, exc, wait_until):
    @ray.remote
    class Holder:
        def hold(self, refs):
            self.refs = refs
            return len(ray.get(refs[0]))

    data = ray.put(list(range(5)))
    holder = Holder.remote()
    assert ray.get(holder.hold.remote([data]), timeout=DEATH_S) == 5
    ray.kill(holder)
    call = lambda: holder.hold.remote([data])  # noqa: E731
    wait_until(lambda: _dead(ray, exc, call), timeout=DEATH_S, message="death")
    assert ray.get(data, timeout=DEATH_S) == [0, 1, 2, 3, 4]


def test_a_put_in_a_task_is_readable_while_its_worker_lives(ray):
    @ray.remote
    def make():
        return [ray.put({"answer": 42})]

    (inner,) = ray.get(make.remote(), timeout=DEATH_S)
    assert ray.get(inner, timeout=DEATH_S) == {"answer": 42}
