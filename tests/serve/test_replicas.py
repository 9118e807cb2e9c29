"""Replicas come and go: a killed replica is replaced (its in-flight requests fail as in Ray),
autoscaling follows a bounded loopback load up and back down, failed health checks replace a
replica, and deleting an application lets running requests finish (graceful shutdown)."""

from __future__ import annotations

import os
import threading

import httpx


def _alive(ray, class_name: str) -> list:
    actors = ray.util.state.list_actors(filters=[("state", "=", "ALIVE")])
    return [a for a in actors if a.class_name == class_name]


def test_killed_replica_is_replaced_and_its_requests_fail(serve_env, gate, wait_until):
    ray, serve = serve_env.ray, serve_env.serve

    @serve.deployment(num_replicas=2)
    class Worker:
        async def __call__(self, block=False):
            if block:
                await ray.get_actor("gate", namespace="serve-tests").wait.remote()
            return os.getpid()

        def pid(self):
            return os.getpid()

    handle = serve.run(Worker.bind(), name="kill", route_prefix=None)
    replicas = _alive(ray, "ServeReplica:kill:Worker")
    assert len(replicas) == 2
    in_flight = [handle.remote(True) for _ in range(2)]
    wait_until(lambda: ray.get(gate.count.remote()) == 2, timeout=30)
    victim = replicas[0]
    ray.kill(ray.get_actor(victim.name, namespace="serve"))
    wait_until(
        lambda: (
            {a.pid for a in _alive(ray, "ServeReplica:kill:Worker")} - {victim.pid}
            and len(_alive(ray, "ServeReplica:kill:Worker")) == 2
            and serve.status().applications["kill"].status == "RUNNING"
        ),
        timeout=60,
    )
    ray.get(gate.open.remote())
    outcomes = []
    for response in in_flight:
        try:
            outcomes.append(response.result(timeout_s=30))
        except ray.exceptions.RayActorError:
            outcomes.append("died")
    # The request on the killed replica fails with RayActorError; the other one finishes.
    assert sorted(map(str, outcomes)).count("died") == 1
    pids = {handle.pid.remote().result(timeout_s=30) for _ in range(20)}
    assert victim.pid not in pids and pids <= {
        a.pid for a in _alive(ray, "ServeReplica:kill:Worker")
    }


def test_autoscaling_up_under_load_and_down_when_idle(serve_env, gate, wait_until):
    ray, serve = serve_env.ray, serve_env.serve

    @serve.deployment(
        max_ongoing_requests=4,
        autoscaling_config={
            "min_replicas": 1,
            "max_replicas": 3,
            "target_ongoing_requests": 1,
            "upscale_delay_s": 0,
            "downscale_delay_s": 0.5,
            "look_back_period_s": 0.5,
        },
    )
    class Elastic:
        async def __call__(self, request=None):
            await ray.get_actor("gate", namespace="serve-tests").wait.remote()
            return "ok"

    serve.run(Elastic.bind(), name="auto", route_prefix="/auto")
    assert len(_alive(ray, "ServeReplica:auto:Elastic")) == 1
    # A bounded loopback load: 6 HTTP requests held open until the gate opens.
    replies: list = []

    def client():
        replies.append(httpx.get(f"{serve_env.url}/auto", timeout=120).status_code)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(_alive(ray, "ServeReplica:auto:Elastic")) == 3, timeout=60)
    deployment = serve.status().applications["auto"].deployments["Elastic"]
    assert (
        deployment.replica_states.get("RUNNING", 0) + deployment.replica_states.get("STARTING", 0)
        == 3
    )
    ray.get(gate.open.remote())
    for thread in threads:
        thread.join(120)
    assert replies == [200] * 6
    wait_until(lambda: len(_alive(ray, "ServeReplica:auto:Elastic")) == 1, timeout=60)


def test_failing_health_check_replaces_the_replica(serve_env, wait_until, tmp_path):
    ray, serve = serve_env.ray, serve_env.serve
    marker = tmp_path / "sick"

    @serve.deployment(health_check_period_s=0.1, health_check_timeout_s=5)
    class Fragile:
        def check_health(self):
            if marker.exists() and marker.read_text() == str(os.getpid()):
                raise RuntimeError("I am unwell")

        def __call__(self):
            return os.getpid()

    handle = serve.run(Fragile.bind(), name="health", route_prefix=None)
    first = handle.remote().result(timeout_s=30)
    marker.write_text(str(first))
    wait_until(
        lambda: [a.pid for a in _alive(ray, "ServeReplica:health:Fragile")] not in ([], [first]),
        timeout=60,
    )
    wait_until(lambda: serve.status().applications["health"].status == "RUNNING", timeout=60)
    assert handle.remote().result(timeout_s=30) != first


def test_delete_waits_for_running_requests(serve_env, gate, wait_until):
    ray, serve = serve_env.ray, serve_env.serve

    @serve.deployment(graceful_shutdown_timeout_s=30, graceful_shutdown_wait_loop_s=0.05)
    class Finisher:
        async def __call__(self):
            await ray.get_actor("gate", namespace="serve-tests").wait.remote()
            return "finished"

    handle = serve.run(Finisher.bind(), name="graceful", route_prefix=None)
    response = handle.remote()
    wait_until(lambda: ray.get(gate.count.remote()) == 1, timeout=30)
    deleter = threading.Thread(target=serve.delete, args=("graceful",))
    deleter.start()
    wait_until(lambda: serve.status().applications.get("graceful") is None, timeout=30)
    assert _alive(ray, "ServeReplica:graceful:Finisher")  # still draining
    ray.get(gate.open.remote())
    assert response.result(timeout_s=30) == "finished"
    deleter.join(60)
    assert not deleter.is_alive()
    assert not _alive(ray, "ServeReplica:graceful:Finisher")
