"""The cluster as the user sees it: resources, nodes, runtime context, init/shutdown state."""

from __future__ import annotations

import os
import time

import pytest

# --------------------------------------------------------------------------------------------------
# init state


def test_is_initialized(ray):
    assert ray.is_initialized() is True


def test_is_initialized_inside_tasks_and_actors(ray):
    # Library code does `if not ray.is_initialized(): ray.init()`: inside a task or an actor the
    # worker is already connected, and must not start a cluster of its own.
    @ray.remote
    def inside_task():
        return ray.is_initialized()

    @ray.remote
    class Probe:
        def inside_actor(self):
            return ray.is_initialized()

    probe = Probe.remote()
    assert ray.get([inside_task.remote(), probe.inside_actor.remote()]) == [True, True]
    ray.kill(probe)


def test_second_init_raises_unless_ignore_reinit_error(ray):
    # Ray: RuntimeError "Maybe you called ray.init twice by accident? This error can be
    # suppressed by passing in 'ignore_reinit_error=True' or by calling 'ray.shutdown()' prior
    # to 'ray.init()'."
    with pytest.raises(RuntimeError, match="ignore_reinit_error"):
        ray.init(num_cpus=2)
    ray.init(ignore_reinit_error=True)  # a no-op: the running cluster is kept
    assert ray.is_initialized()
    assert ray.cluster_resources()["CPU"] == 2


# --------------------------------------------------------------------------------------------------
# Resources and nodes


def test_cluster_resources(ray):
    resources = ray.cluster_resources()
    assert isinstance(resources, dict)
    assert resources["CPU"] == 2
    assert isinstance(resources["CPU"], float)  # Ray reports resource quantities as floats
    assert resources.get("GPU", 0) == 0


def test_available_resources_track_running_tasks(ray, wait_until):
    # Ray reports availability with a short delay, hence the polling.
    wait_until(
        lambda: ray.available_resources().get("CPU", 0) == 2,
        timeout=10,
        message="CPUs not all free at rest",
    )

    @ray.remote
    def hold(t):
        time.sleep(t)
        return t

    ref = hold.remote(3.0)
    wait_until(
        lambda: ray.available_resources().get("CPU", 0) == 1,
        timeout=10,
        message="one CPU should be in use",
    )
    refs = [ref, hold.remote(2.0)]
    # Ray leaves a resource out of available_resources() when none of it is free.
    wait_until(
        lambda: "CPU" not in ray.available_resources(),
        timeout=10,
        message="no CPU should be free",
    )
    ray.get(refs, timeout=30)
    wait_until(
        lambda: ray.available_resources().get("CPU", 0) == 2,
        timeout=10,
        message="CPUs not given back",
    )


def test_nodes(ray):
    nodes = ray.nodes()
    assert isinstance(nodes, list)
    assert len(nodes) == 1
    node = nodes[0]
    assert isinstance(node, dict)
    assert node["Alive"] is True
    assert isinstance(node["NodeID"], str)
    assert node["NodeID"]
    assert node["Resources"]["CPU"] == 2
    assert isinstance(node["NodeManagerAddress"], str)


def test_infeasible_gpu_task_never_runs(ray, exc):
    @ray.remote(num_gpus=1)
    def needs_gpu():
        return "ran"

    ref = needs_gpu.remote()
    # Ray warns that the task is infeasible and keeps it pending forever.
    with pytest.raises(exc.GetTimeoutError):
        ray.get(ref, timeout=1)
    ray.cancel(ref)


def test_infeasible_cpu_request_never_runs(ray, exc):
    @ray.remote(num_cpus=3)
    def too_big():
        return "ran"

    ref = too_big.remote()
    with pytest.raises(exc.GetTimeoutError):
        ray.get(ref, timeout=1)
    ray.cancel(ref)


def test_fractional_cpus_let_more_tasks_run_at_once(ray, tmp_path):
    @ray.remote(num_cpus=0.5)
    def rendezvous(path, i, expected):
        # Check in, then wait (bounded) until `expected` tasks are running at the same time.
        with open(os.path.join(path, f"task-{i}"), "w"):
            pass
        deadline = time.monotonic() + 20  # generous: worker start-up is slow on a loaded box
        while time.monotonic() < deadline:
            if len(os.listdir(path)) >= expected:
                return True
            time.sleep(0.02)
        return False

    # 4 tasks of half a CPU each fit on 2 CPUs at once: all four meet.
    refs = [rendezvous.remote(str(tmp_path), i, 4) for i in range(4)]
    assert ray.get(refs, timeout=60) == [True] * 4


# --------------------------------------------------------------------------------------------------
# Runtime context


def test_runtime_context_in_the_driver(ray):
    ctx = ray.get_runtime_context()
    job_id = ctx.get_job_id()
    assert isinstance(job_id, str)
    assert job_id
    node_id = ctx.get_node_id()
    assert isinstance(node_id, str)
    assert node_id == ray.nodes()[0]["NodeID"]
    assert ctx.get_actor_id() is None


def test_runtime_context_in_a_task(ray):
    @ray.remote
    def context():
        ctx = ray.get_runtime_context()
        return ctx.get_job_id(), ctx.get_task_id(), ctx.get_node_id(), ctx.get_actor_id()

    (job_a, task_a, node_a, actor_a), (job_b, task_b, _, _) = ray.get(
        [context.remote(), context.remote()], timeout=30
    )
    driver = ray.get_runtime_context()
    assert job_a == job_b == driver.get_job_id()
    assert isinstance(task_a, str)
    assert task_a
    assert task_a != task_b
    assert node_a == driver.get_node_id()
    assert actor_a is None


# --------------------------------------------------------------------------------------------------
# The public names tutorials use


@pytest.mark.parametrize(
    "name",
    [
        "init",
        "shutdown",
        "is_initialized",
        "remote",
        "method",
        "get",
        "put",
        "wait",
        "cancel",
        "kill",
        "get_actor",
        "get_runtime_context",
        "cluster_resources",
        "available_resources",
        "nodes",
        "ObjectRef",
        "ObjectRefGenerator",
        "exceptions",
        "actor",
        "util",
    ],
)
def test_public_name_exists(ray, name):
    assert hasattr(ray, name), f"{ray.__name__}.{name} is missing"


def test_exit_actor_is_reachable_as_an_attribute(ray):
    assert callable(ray.actor.exit_actor)


def test_get_node_ip_address_in_driver_and_task(ray):
    @ray.remote
    def where():
        return ray.util.get_node_ip_address()

    ip = ray.util.get_node_ip_address()
    assert ip.count(".") == 3
    assert ray.get(where.remote()) == ip  # one node: the same machine


def test_timeline_is_a_chrome_trace_of_task_runs(ray, wait_until, tmp_path):
    import json
    import time

    @ray.remote
    def compat_traced():
        time.sleep(0.02)
        return 1

    ray.get([compat_traced.remote() for _ in range(3)], timeout=30)

    def traced():
        runs = [e for e in ray.timeline() if e.get("ph") == "X" and "compat_traced" in e["name"]]
        return runs if len(runs) >= 3 else None

    runs = wait_until(traced, timeout=30, message="3 runs of compat_traced in ray.timeline()")
    for event in runs:
        assert event["dur"] >= 15_000  # microseconds: each slept 20 ms
        assert isinstance(event["ts"], (int, float)) and "pid" in event and "tid" in event
    path = tmp_path / "trace.json"
    assert ray.timeline(filename=str(path)) is None
    written = json.loads(path.read_text())
    assert any(e.get("ph") == "X" and "compat_traced" in e["name"] for e in written)
