"""The runtime context's remaining methods (actor name, function name, current actor, session),
the ID classes at the top level, and `util.as_completed` / `map_unordered` /
`list_named_actors`: the same on both backends."""

from __future__ import annotations

import threading

import pytest


def _make_probe():
    # Made inside a function so that it is pickled by value: Ray's workers cannot import tests.
    def probe(ray):
        ctx = ray.get_runtime_context()
        out = {
            "actor_name": ctx.get_actor_name(),
            "function": ctx.get_task_function_name(),
            "session": ctx.get_session_name(),
            "labels": ctx.get_node_labels(),
        }
        try:
            out["current_actor"] = isinstance(ctx.current_actor, ray.actor.ActorHandle)
        except RuntimeError as exc:
            out["current_actor"] = str(exc)
        return out

    return probe


def test_context_in_driver_task_and_actors(ray):
    _probe = _make_probe()
    driver = _probe(ray)
    assert driver["actor_name"] is None and driver["function"] is None
    assert driver["current_actor"] == "This method is only available in an actor."
    assert driver["session"].startswith("session_")
    node = ray.get_runtime_context().get_node_id()
    assert driver["labels"]["ray.io/node-id"] == node

    @ray.remote
    def task():
        return _probe(ray)

    in_task = ray.get(task.remote(), timeout=60)
    assert in_task["actor_name"] is None
    assert in_task["function"].endswith(".task") and "test_context" in in_task["function"]
    assert in_task["session"] == driver["session"]

    @ray.remote
    class Probe:
        def probe(self):
            return _probe(ray)

        def me(self):
            return ray.get_runtime_context().current_actor

    anonymous = Probe.remote()
    named = Probe.options(name="probe-ctx").remote()
    a = ray.get(anonymous.probe.remote(), timeout=60)
    n = ray.get(named.probe.remote(), timeout=60)
    assert a["actor_name"] == "" and n["actor_name"] == "probe-ctx"
    assert a["function"].endswith(".Probe.probe")
    assert a["current_actor"] is True
    # The handle an actor gets for itself works from the driver.
    me = ray.get(named.me.remote(), timeout=60)
    assert ray.get(me.probe.remote(), timeout=60)["actor_name"] == "probe-ctx"
    ray.kill(anonymous)
    ray.kill(named)


def test_id_classes_at_the_top_level(ray):
    ctx = ray.get_runtime_context()
    assert isinstance(ctx.job_id, ray.JobID)
    assert isinstance(ctx.node_id, ray.NodeID)
    for name in ("ActorID", "TaskID", "WorkerID"):
        assert isinstance(getattr(ray, name), type)


def test_as_completed_yields_each_result_once_in_batches(ray):
    @ray.remote
    def square(x):
        return x * x

    refs = [square.remote(i) for i in range(25)]
    seen = list(ray.util.as_completed(refs, chunk_size=4))
    assert sorted(seen) == [i * i for i in range(25)]
    as_refs = list(ray.util.as_completed(refs, chunk_size=7, yield_obj_refs=True))
    assert sorted(ray.get(as_refs, timeout=60)) == sorted(seen)
    with pytest.raises(ValueError, match="chunk_size"):
        list(ray.util.as_completed(refs, chunk_size=0))
    with pytest.raises(ValueError, match="num_returns"):
        list(ray.util.as_completed(refs, num_returns=2))


def test_map_unordered_bounds_the_tasks_in_flight(ray):
    @ray.remote
    class Gauge:
        def __init__(self):
            self.now = self.peak = 0

        def enter(self):
            self.now += 1
            self.peak = max(self.peak, self.now)

        def leave(self):
            self.now -= 1

        def get_peak(self):
            return self.peak

    gauge = Gauge.remote()

    @ray.remote(num_cpus=0)
    def work(x):
        ray.get(gauge.enter.remote())
        ray.get(gauge.leave.remote())
        return x + 1

    # Submitted from the driver: at most backpressure_size tasks are pending at once.
    submitted = []
    lock = threading.Lock()

    class Counting:
        def remote(self, x):
            with lock:
                submitted.append(x)
            return work.remote(x)

    out = list(ray.util.map_unordered(Counting(), range(30), backpressure_size=5, chunk_size=2))
    assert sorted(out) == list(range(1, 31))
    assert submitted == list(range(30))
    assert ray.get(gauge.get_peak.remote(), timeout=60) <= 5
    with pytest.raises(ValueError, match="backpressure_size"):
        list(ray.util.map_unordered(work, range(3), backpressure_size=0))


def test_list_named_actors(ray):
    @ray.remote
    class Named:
        def ping(self):
            return 1

    here = Named.options(name="listed-here").remote()
    there = Named.options(name="listed-there", namespace="elsewhere").remote()
    anonymous = Named.remote()
    ray.get([here.ping.remote(), there.ping.remote(), anonymous.ping.remote()], timeout=60)
    names = ray.util.list_named_actors()
    assert "listed-here" in names and "listed-there" not in names
    everywhere = ray.util.list_named_actors(all_namespaces=True)
    assert {"name": "listed-there", "namespace": "elsewhere"} in everywhere
    assert {"name": "listed-here", "namespace": ray.get_runtime_context().namespace} in everywhere
    for handle in (here, there, anonymous):
        ray.kill(handle)
