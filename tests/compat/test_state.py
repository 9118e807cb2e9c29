"""The state API, ``ray.util.state``: list_tasks, list_actors, list_objects, list_nodes,
summarize_tasks.

Real Ray serves this API from its dashboard, which needs ``ray[default]``; this module asks for
``include_dashboard=True`` and its real-Ray run is skipped (with the reason) where the install
cannot start one. Ray reports task and actor events with a delay, so every check polls.

Shapes (Ray 2.x): the list functions return lists of dataclass-like objects (``TaskState``,
``ActorState``, ``ObjectState``, ``NodeState``) with attribute access; ``filters`` is a list of
``(key, "=" | "!=", value)`` tuples; states are upper-case strings ("FINISHED", "FAILED",
"ALIVE", "DEAD", ...); ``summarize_tasks()`` returns
``{"cluster": {"summary": {func_name: {"state_counts": {...}, ...}}, "total_tasks": N, ...}}``.
"""

from __future__ import annotations

import importlib
import os

import pytest

RAY_INIT_KWARGS = {"include_dashboard": True}


@pytest.fixture(scope="module")
def state(ray):
    """``ray.util.state`` of the backend.

    Real Ray's state client does not use the driver's connection: with no address it looks for
    running GCS processes and raises ConnectionError("Found multiple active Ray instances") when
    it finds several (another session on this machine). Point it at this module's cluster through
    RAY_ADDRESS (honoured by the client) while the module runs; the tests themselves call the API
    with no address, as user code does.
    """
    module = importlib.import_module(f"{ray.__name__}.util.state")
    if ray.__name__ != "ray":
        yield module
        return
    old = os.environ.get("RAY_ADDRESS")
    os.environ["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
    try:
        yield module
    finally:
        if old is None:
            os.environ.pop("RAY_ADDRESS", None)
        else:
            os.environ["RAY_ADDRESS"] = old


def test_list_nodes(ray, state):
    nodes = state.list_nodes()
    assert len(nodes) == 1
    node = nodes[0]
    assert node.state == "ALIVE"
    assert node.node_id == ray.get_runtime_context().get_node_id()
    assert node.is_head_node is True
    assert node.resources_total["CPU"] == 2


def test_list_tasks_with_filters(ray, state, wait_until):
    @ray.remote
    def compat_square(x):
        return x * x

    assert ray.get([compat_square.remote(i) for i in range(3)], timeout=30) == [0, 1, 4]

    def finished():
        tasks = state.list_tasks(filters=[("name", "=", "compat_square")])
        return tasks if len(tasks) == 3 and all(t.state == "FINISHED" for t in tasks) else None

    tasks = wait_until(finished, timeout=20, message="3 FINISHED compat_square tasks")
    ids = {t.task_id for t in tasks}
    assert len(ids) == 3
    for t in tasks:
        assert isinstance(t.task_id, str)
        assert t.name == "compat_square"
        assert t.type == "NORMAL_TASK"
        assert t.job_id == ray.get_runtime_context().get_job_id()

    all_finished = state.list_tasks(filters=[("state", "=", "FINISHED")])
    assert ids <= {t.task_id for t in all_finished}
    assert all(t.state == "FINISHED" for t in all_finished)


def test_list_tasks_shows_failed_tasks(ray, state, wait_until):
    @ray.remote
    def compat_fails():
        raise ValueError("for the state API")

    with pytest.raises(ValueError):
        ray.get(compat_fails.remote(), timeout=30)

    def failed():
        tasks = state.list_tasks(filters=[("name", "=", "compat_fails")])
        return tasks if tasks and tasks[0].state == "FAILED" else None

    wait_until(failed, timeout=20, message="compat_fails listed as FAILED")


def test_list_actors(ray, state, wait_until):
    @ray.remote
    class CompatListed:
        def ping(self):
            return "pong"

    actor = CompatListed.options(name="compat-listed").remote()
    assert ray.get(actor.ping.remote(), timeout=30) == "pong"

    def alive():
        actors = state.list_actors(filters=[("name", "=", "compat-listed")])
        return actors if actors and actors[0].state == "ALIVE" else None

    (info,) = wait_until(alive, timeout=20, message="compat-listed listed as ALIVE")
    assert info.name == "compat-listed"
    # Ray's class_name is the class's __qualname__ (a task's name is the function's __name__).
    assert info.class_name == "test_list_actors.<locals>.CompatListed"
    by_class = state.list_actors(filters=[("class_name", "=", info.class_name)])
    assert [a.actor_id for a in by_class] == [info.actor_id]
    assert isinstance(info.actor_id, str)

    ray.kill(actor)

    def dead():
        actors = state.list_actors(filters=[("actor_id", "=", info.actor_id)])
        return actors and actors[0].state == "DEAD"

    wait_until(dead, timeout=20, message="killed actor listed as DEAD")


def test_list_objects(ray, state, wait_until):
    ref = ray.put(b"x" * 1000)

    def listed():
        return [o for o in state.list_objects() if o.object_id == ref.hex()]

    (obj,) = wait_until(listed, timeout=20, message="put object listed")
    assert obj.object_size >= 1000


def test_summarize_tasks(ray, state, wait_until):
    @ray.remote
    def compat_summarized():
        return 1

    ray.get([compat_summarized.remote() for _ in range(4)], timeout=30)

    def summarised():
        summary = state.summarize_tasks()["cluster"]["summary"]
        entry = summary.get("compat_summarized")
        return entry if entry and entry["state_counts"].get("FINISHED") == 4 else None

    entry = wait_until(summarised, timeout=20, message="4 FINISHED in summarize_tasks()")
    assert entry["type"] == "NORMAL_TASK"


def test_get_by_id(ray, state, wait_until):
    """get_task/get_actor/get_node/get_objects: one row by its hex id (or a task's ObjectRef),
    None for an id that does not exist."""

    @ray.remote
    def compat_fetched():
        return ray.get_runtime_context().get_task_id()

    @ray.remote
    class CompatGot:
        def my_id(self):
            return ray.get_runtime_context().get_actor_id()

    ref = compat_fetched.remote()
    task_id = ray.get(ref, timeout=30)
    actor = CompatGot.remote()
    actor_id = ray.get(actor.my_id.remote(), timeout=30)

    def finished():
        task = state.get_task(task_id)
        return task if task is not None and task.state == "FINISHED" else None

    task = wait_until(finished, timeout=20, message="the task FINISHED in get_task")
    assert task.task_id == task_id and task.name == "compat_fetched"
    assert state.get_task(ref).task_id == task_id  # by the ObjectRef it returned
    got = wait_until(lambda: state.get_actor(actor_id), timeout=20, message="get_actor")
    assert got.actor_id == actor_id and got.class_name.endswith("CompatGot")
    node_id = ray.get_runtime_context().get_node_id()
    assert state.get_node(node_id).node_id == node_id
    put = ray.put(b"y" * 1000)
    rows = wait_until(lambda: state.get_objects(put.hex()), timeout=20, message="get_objects")
    assert rows[0].object_id == put.hex()
    missing = "ff" * (len(task_id) // 2)
    assert state.get_task(missing) is None
    assert state.get_actor("ff" * (len(actor_id) // 2)) is None
    assert state.get_objects("ff" * (len(put.hex()) // 2)) is None


def test_summarize_actors_and_objects(ray, state, wait_until):
    @ray.remote
    class CompatCounted:
        def ping(self):
            return 1

    actors = [CompatCounted.remote() for _ in range(2)]
    ray.get([a.ping.remote() for a in actors], timeout=30)
    held = ray.put(b"z" * 200_000)

    def counted():
        summary = state.summarize_actors()["cluster"]["summary"]
        entry = next((e for k, e in summary.items() if k.endswith("CompatCounted")), None)
        return entry if entry and entry["state_counts"].get("ALIVE") == 2 else None

    wait_until(counted, timeout=20, message="2 ALIVE CompatCounted in summarize_actors()")
    objects = state.summarize_objects()["cluster"]
    assert objects["total_objects"] >= 1 and objects["summary_by"] == "callsite"
    assert objects["total_size_mb"] > 0
    del held


def test_calls_that_returned_stay_finished_when_their_actor_is_killed(ray, state, wait_until):
    """A call whose result the caller already has is FINISHED, even when its actor is killed
    right after it returned (issue 17: rayground's direct calls report their end to the head a
    little later, and the kill used to win that race, so such calls showed FAILED). Before the
    fix every round here had several such rows; two rounds make a regression certain."""

    @ray.remote
    class CompatKilledAfter:
        def call(self, i):
            return i

    rounds, actors_per_round, calls = 2, 10, 5
    for _ in range(rounds):
        actors = [CompatKilledAfter.remote() for _ in range(actors_per_round)]
        # The first calls (through the head on rayground) open the direct path to each actor.
        assert ray.get([a.call.remote(-1) for a in actors], timeout=60) == [-1] * len(actors)
        for actor in actors:
            assert [ray.get(actor.call.remote(i), timeout=60) for i in range(calls)] == list(
                range(calls)
            )
        for actor in actors:
            ray.kill(actor)

    expected = rounds * actors_per_round * (calls + 1)

    def all_ended():
        rows = state.list_tasks(filters=[("name", "=", "CompatKilledAfter.call")], limit=10_000)
        ended = [t for t in rows if t.state in ("FINISHED", "FAILED")]
        return ended if len(ended) == expected else None

    rows = wait_until(all_ended, timeout=60, message=f"{expected} calls listed as ended")
    assert sorted(t.state for t in rows) == ["FINISHED"] * expected
