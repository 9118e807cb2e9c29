"""serve.shutdown() stops everything: no Serve actor alive and nothing listening on the port."""

from __future__ import annotations

import httpx


def test_shutdown_leaves_nothing_listening(env, port_open):
    ray, serve = env.ray, env.serve

    @serve.deployment(num_replicas=2)
    def ping(request):
        return "pong"

    serve.run(ping.bind(), name="ping")
    assert httpx.get(f"{env.url}/", timeout=30).text == "pong"
    assert port_open(env.port)
    serve.shutdown()
    assert not port_open(env.port)
    alive = ray.util.state.list_actors(filters=[("state", "=", "ALIVE")])
    assert [a.class_name for a in alive] == []
    assert serve.status().applications == {}
    # Serve starts again on the same cluster afterwards.
    serve.start(http_options={"port": env.port})
    serve.run(ping.bind(), name="ping")
    assert httpx.get(f"{env.url}/", timeout=30).text == "pong"
