"""Ray Serve compatibility: the same code and assertions on rayground.serve and on real Ray
Serve (the `ray` half needs `ray[serve]` and is marked `ray`; CI skips it).

One cluster and one Serve per backend for the module (Ray Serve takes seconds to start)."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from _needs import missing

RUNTIME = str(Path(__file__).resolve().parents[2] / "runtime")


@dataclass
class Backend:
    name: str
    ray: object
    serve: object
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("rayground", id="rayground"),
        pytest.param("ray", id="ray", marks=pytest.mark.ray),
    ],
)
def backend(request, pick_port) -> Iterator[Backend]:
    name = request.param
    if name == "rayground":
        if RUNTIME not in sys.path:
            sys.path.insert(0, RUNTIME)
        parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        if RUNTIME not in parts:
            os.environ["PYTHONPATH"] = os.pathsep.join([RUNTIME, *parts])
    try:
        ray = importlib.import_module(name)
        serve = importlib.import_module(f"{name}.serve")
    except Exception as exc:
        missing(f"{name} serve is not importable: {type(exc).__name__}: {exc}")
    with contextlib.suppress(Exception):
        if ray.is_initialized():
            ray.shutdown()
    kwargs = {"num_cpus": 4}
    if name == "ray":
        kwargs["include_dashboard"] = False
        # Ray gives its raylet 30 s to register by default, which a busy 2-core machine misses.
        os.environ.setdefault("RAY_raylet_start_wait_time_s", "120")
    try:
        ray.init(**kwargs)
    except Exception:
        if name != "ray":
            raise
        with contextlib.suppress(Exception):
            ray.shutdown()
        ray.init(**kwargs)  # once more: Ray's start-up can time out under load
    port = pick_port()
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        yield Backend(name, ray, serve, port)
    finally:
        with contextlib.suppress(Exception):
            serve.shutdown()
        ray.shutdown()


@pytest.fixture
def serve(backend):
    yield backend.serve
    for app in list(backend.serve.status().applications):
        backend.serve.delete(app)


def test_class_deployment_handle_and_methods(backend, serve):
    @serve.deployment(num_replicas=2)
    class Counter:
        def __init__(self, start):
            self.value = start

        def __call__(self, step=1):
            self.value += step
            return self.value

        async def peek(self):
            return self.value

    handle = serve.run(Counter.bind(10), name="counter", route_prefix=None)
    assert type(handle).__name__ == "DeploymentHandle"
    response = handle.remote(5)
    assert type(response).__name__ == "DeploymentResponse"
    assert response.result(timeout_s=60) == 15
    assert handle.peek.remote().result(timeout_s=60) in (10, 15)
    app = serve.status().applications["counter"]
    assert app.status == "RUNNING"
    assert app.deployments["Counter"].status == "HEALTHY"
    assert app.deployments["Counter"].replica_states == {"RUNNING": 2}


def test_composition_and_passing_responses(backend, serve):
    @serve.deployment
    class Double:
        def __call__(self, x):
            return 2 * x

    @serve.deployment
    class Ingress:
        def __init__(self, double):
            self.double = double

        async def __call__(self, x):
            return await self.double.remote(self.double.remote(x))

    handle = serve.run(Ingress.bind(Double.bind()), name="comp", route_prefix=None)
    assert handle.remote(3).result(timeout_s=60) == 12
    double = serve.get_deployment_handle("Double", app_name="comp")
    assert double.remote(double.remote(5)).result(timeout_s=60) == 20


def test_http_json_text_and_routes(backend, serve):
    from starlette.requests import Request

    @serve.deployment
    class Api:
        async def __call__(self, request: Request):
            if request.query_params.get("kind") == "text":
                return "plain words"
            body = await request.json()
            return {"echo": body, "path": request.url.path}

    serve.run(Api.bind(), name="api", route_prefix="/api")
    with httpx.Client(base_url=backend.url, timeout=60) as client:
        reply = client.post("/api/x", json={"a": [1, 2]})
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "application/json"
        assert reply.json() == {"echo": {"a": [1, 2]}, "path": "/api/x"}
        text = client.get("/api", params={"kind": "text"})
        assert text.text == "plain words"
        assert text.headers["content-type"].startswith("text/plain")
        assert client.get("/elsewhere").status_code == 404


def test_user_config_and_reconfigure(backend, serve):
    @serve.deployment(user_config={"threshold": 0.5})
    class Model:
        def reconfigure(self, config):
            self.threshold = config["threshold"]

        def __call__(self, x):
            return x > self.threshold

    handle = serve.run(Model.bind(), name="cfg", route_prefix=None)
    assert handle.remote(0.7).result(timeout_s=60) is True
    handle = serve.run(
        Model.options(user_config={"threshold": 0.9}).bind(), name="cfg", route_prefix=None
    )
    assert handle.remote(0.7).result(timeout_s=60) is False


def test_errors_keep_the_users_type_and_give_500(backend, serve):
    @serve.deployment
    class Picky:
        def __call__(self, request=None):
            raise ValueError("no thanks")

    handle = serve.run(Picky.bind(), name="picky", route_prefix="/picky")
    with pytest.raises(ValueError, match="no thanks"):
        handle.remote().result(timeout_s=60)
    assert httpx.get(f"{backend.url}/picky", timeout=60).status_code == 500


def test_streaming_handle(backend, serve):
    @serve.deployment
    class Tokens:
        def __call__(self, n):
            for i in range(n):
                yield f"t{i}"

    handle = serve.run(Tokens.bind(), name="tokens", route_prefix=None)
    gen = handle.options(stream=True).remote(3)
    assert type(gen).__name__ == "DeploymentResponseGenerator"
    assert list(gen) == ["t0", "t1", "t2"]


def test_replica_context(backend, serve):
    @serve.deployment
    def where():
        ctx = serve.get_replica_context()
        return [ctx.app_name, ctx.deployment, isinstance(ctx.replica_tag, str)]

    handle = serve.run(where.bind(), name="ctx", route_prefix=None)
    assert handle.remote().result(timeout_s=60) == ["ctx", "where", True]
    with pytest.raises(serve.exceptions.RayServeException):
        serve.get_replica_context()


def test_batch(backend, serve):
    @serve.deployment(max_ongoing_requests=16)
    class Squares:
        @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.2)
        async def __call__(self, xs):
            return [x * x for x in xs]

    handle = serve.run(Squares.bind(), name="batch", route_prefix=None)
    responses = [handle.remote(i) for i in range(6)]
    assert [r.result(timeout_s=60) for r in responses] == [i * i for i in range(6)]


def test_unknown_and_deleted_applications(backend, serve):
    @serve.deployment
    def ok():
        return "ok"

    serve.run(ok.bind(), name="temp", route_prefix=None)
    assert serve.get_app_handle("temp").remote().result(timeout_s=60) == "ok"
    serve.delete("temp")
    assert "temp" not in serve.status().applications
    with pytest.raises(serve.exceptions.RayServeException, match="does not exist"):
        serve.get_app_handle("temp")


def test_deployment_api_without_running(backend):
    serve = backend.serve

    @serve.deployment(num_replicas=3, max_ongoing_requests=7)
    class D:
        pass

    assert (D.name, D.num_replicas, D.max_ongoing_requests) == ("D", 3, 7)
    renamed = D.options(name="E", num_replicas=1)
    assert (renamed.name, renamed.num_replicas, D.name) == ("E", 1, "D")
    with pytest.raises(RuntimeError):
        D()
    assert type(D.bind()).__name__ == "Application"


def test_blocking_inside_an_event_loop_is_refused_and_await_works(backend, serve):
    import asyncio

    @serve.deployment
    def echo(x):
        return x

    handle = serve.run(echo.bind(), name="loop", route_prefix=None)

    async def inside_a_loop():
        with pytest.raises(RuntimeError, match="Use `await response` instead"):
            handle.remote(1).result(timeout_s=60)
        return await handle.remote(2)

    assert asyncio.run(inside_a_loop()) == 2


def test_routes_listing_and_a_taken_prefix(backend, serve):
    @serve.deployment
    class Named:
        def __init__(self, word):
            self.word = word

        async def __call__(self, request):
            return {"word": self.word, "path": request.url.path}

    serve.run(Named.bind("alpha"), name="a", route_prefix="/alpha")
    serve.run(Named.bind("beta"), name="b", route_prefix="/beta")
    with httpx.Client(base_url=backend.url, timeout=60) as client:
        assert client.get("/beta/x/y").json() == {"word": "beta", "path": "/beta/x/y"}
        missing = client.get("/gamma")
        assert missing.status_code == 404 and "/-/routes" in missing.text
        assert client.get("/-/routes").json() == {"/alpha": "a", "/beta": "b"}
        assert client.get("/-/healthz").text == "success"
    with pytest.raises(serve.exceptions.RayServeException, match="is being used by application"):
        serve.run(Named.bind("again"), name="c", route_prefix="/alpha")
    serve.delete("a")
    assert httpx.get(f"{backend.url}/alpha", timeout=60).status_code == 404


def test_http_streaming_response(backend, serve):
    from starlette.responses import StreamingResponse

    @serve.deployment
    class Streamer:
        async def __call__(self, request):
            n = int(request.query_params["n"])

            async def chunks():
                for i in range(n):
                    yield f"chunk{i};"

            return StreamingResponse(chunks(), media_type="text/plain")

    serve.run(Streamer.bind(), name="stream", route_prefix="/stream")
    with httpx.stream("GET", f"{backend.url}/stream?n=3", timeout=60) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/plain")
        assert "".join(reply.iter_text()) == "chunk0;chunk1;chunk2;"


def test_handle_backpressure_past_max_queued_requests(backend, serve, make_gate, wait_until):
    ray = backend.ray

    gate = make_gate(ray)

    @serve.deployment(max_ongoing_requests=1, max_queued_requests=1)
    class Slow:
        def __init__(self, gate):
            self.gate = gate

        async def __call__(self):
            await self.gate.wait.remote()
            return "done"

    handle = serve.run(Slow.bind(gate), name="slow", route_prefix=None)
    try:
        first = handle.remote()
        wait_until(lambda: ray.get(gate.count.remote()) == 1, timeout=60)
        second = handle.remote()  # waits in the handle's queue
        with pytest.raises(serve.exceptions.BackPressureError, match="max_queued_requests=1"):
            handle.remote().result(timeout_s=60)
    finally:
        ray.get(gate.open.remote())
    assert [first.result(timeout_s=60), second.result(timeout_s=60)] == ["done", "done"]
    ray.kill(gate)


def test_async_function_deployment_with_auto_replicas(backend, serve):
    @serve.deployment(num_replicas="auto")
    async def triple(x):
        return 3 * x

    handle = serve.run(triple.bind(), name="auto", route_prefix=None)
    assert [handle.remote(i).result(timeout_s=60) for i in range(3)] == [0, 3, 6]
    deployment = serve.status().applications["auto"].deployments["triple"]
    assert deployment.status == "HEALTHY"
    assert deployment.replica_states == {"RUNNING": 1}  # "auto" starts at min_replicas=1


def test_a_failing_constructor_fails_the_deployment_with_its_error(backend, serve):
    @serve.deployment(max_constructor_retry_count=1)
    class Broken:
        def __init__(self):
            raise RuntimeError("model file missing")

    with pytest.raises(RuntimeError, match="Deploying application broken failed"):
        serve.run(Broken.bind(), name="broken", route_prefix=None)
    app = serve.status().applications["broken"]
    assert app.status == "DEPLOY_FAILED"
    assert app.deployments["Broken"].status == "DEPLOY_FAILED"
    assert "model file missing" in app.deployments["Broken"].message  # the user's error
