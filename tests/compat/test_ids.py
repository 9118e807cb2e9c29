"""Ids as Ray shows them: hex strings from `.hex()` and `get_runtime_context()`, `ObjectRef(<hex>)`
and `TaskID(<hex>)` reprs, `binary()` round trips, and the same id wherever it appears (a ref's
task, the runtime context inside that task, an actor handle, an error about it)."""

from __future__ import annotations

import re
import time

import pytest

HEX = re.compile(r"^[0-9a-f]+$")


def _is_hex(text) -> bool:
    return isinstance(text, str) and bool(HEX.match(text))


def test_object_ref_repr_hex_and_binary(ray):
    ref = ray.put({"k": 1})
    assert _is_hex(ref.hex())
    assert repr(ref) == f"ObjectRef({ref.hex()})"
    assert isinstance(ref.binary(), bytes)
    assert ref.binary().hex() == ref.hex()


def test_object_ref_from_binary_is_the_same_ref(ray):
    ref = ray.put([1, 2, 3])
    again = ray.ObjectRef.from_binary(ref.binary())
    assert again == ref and hash(again) == hash(ref)
    assert ray.get(again, timeout=30) == [1, 2, 3]
    assert ray.ObjectRef(ref.binary()) == ref  # Ray's constructor takes the binary id
    with pytest.raises(NotImplementedError):  # not in Ray either: from_binary is the way
        ray.ObjectRef.from_hex(ref.hex())


def test_task_id_is_the_same_from_the_ref_and_inside_the_task(ray):
    @ray.remote
    def me():
        ctx = ray.get_runtime_context()
        return ctx.get_task_id(), ctx.task_id.hex(), repr(ctx.task_id)

    ref = me.remote()
    inside, inside_obj, inside_repr = ray.get(ref, timeout=30)
    task_id = ref.task_id()
    assert _is_hex(inside)
    assert inside == inside_obj == task_id.hex()
    assert repr(task_id) == inside_repr == f"TaskID({inside})"
    assert task_id.binary().hex() == inside


def test_runtime_context_ids_in_the_driver(ray):
    ctx = ray.get_runtime_context()
    assert _is_hex(ctx.get_job_id())
    assert _is_hex(ctx.get_node_id())
    assert _is_hex(ctx.get_worker_id())
    assert ctx.job_id.hex() == ctx.get_job_id()
    assert repr(ctx.job_id) == f"JobID({ctx.get_job_id()})"
    assert ctx.node_id.hex() == ctx.get_node_id()
    assert repr(ctx.node_id) == f"NodeID({ctx.get_node_id()})"
    assert ctx.get_actor_id() is None


def test_actor_ids_match_the_handle_and_the_state_of_the_actor(ray):
    @ray.remote
    class Keeper:
        def ids(self):
            ctx = ray.get_runtime_context()
            return ctx.get_actor_id(), ctx.actor_id.hex(), repr(ctx.actor_id), ctx.get_job_id()

    keeper = Keeper.remote()
    actor_id, actor_obj, actor_repr, job = ray.get(keeper.ids.remote(), timeout=60)
    assert _is_hex(actor_id)
    assert actor_id == actor_obj
    assert actor_repr == f"ActorID({actor_id})"
    # (the class as its __qualname__ names it, on both)
    assert re.fullmatch(rf"Actor\((.*\.)?Keeper, {actor_id}\)", repr(keeper))
    assert job == ray.get_runtime_context().get_job_id()


def test_cancelled_task_error_names_the_task(ray, exc):
    @ray.remote
    def busy():
        for _ in range(1000):
            time.sleep(0.01)

    ref = busy.remote()
    ray.wait([ref], timeout=0.5)
    ray.cancel(ref)
    with pytest.raises(exc.TaskCancelledError) as info:
        ray.get(ref, timeout=60)
    cause = info.value.cause
    assert cause.task_id.hex() == ref.task_id().hex()
    assert cause.task_id.hex() in str(info.value)
