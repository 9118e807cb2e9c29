"""Handles, responses and HTTP on a running Serve: composition, user_config, routing, errors,
backpressure, streaming, batching and FastAPI ingress."""

from __future__ import annotations

import os
import threading

import httpx
import pytest

from _needs import need_module


@pytest.fixture
def serve(serve_env):
    return serve_env.serve


def test_function_deployment_over_handle_and_http(serve_env, serve):
    @serve.deployment
    def greet(request):
        return "hello"

    handle = serve.run(greet.bind(), name="fn", route_prefix="/greet")
    reply = httpx.get(f"{serve_env.url}/greet", timeout=30)
    assert reply.status_code == 200 and reply.text == "hello"
    assert reply.headers["content-type"].startswith("text/plain")
    assert handle.remote(None).result(timeout_s=30) == "hello"


def test_composition_handles_arrive_in_constructors(serve):
    @serve.deployment
    class Adder:
        def __init__(self, amount):
            self.amount = amount

        def add(self, x):
            return x + self.amount

    @serve.deployment
    class Chain:
        def __init__(self, first, second):
            self.first, self.second = first, second

        async def __call__(self, x):
            kinds = {type(self.first).__name__, type(self.second).__name__}
            # A response passed on unawaited: the next replica receives its value.
            total = await self.second.add.remote(self.first.add.remote(x))
            return total, sorted(kinds)

    app = Chain.bind(Adder.bind(1), Adder.options(name="Adder10").bind(10))
    handle = serve.run(app, name="chain", route_prefix=None)
    assert handle.remote(5).result(timeout_s=30) == (16, ["DeploymentHandle"])
    deployments = serve.status().applications["chain"].deployments
    assert set(deployments) == {"Chain", "Adder", "Adder10"}


def test_user_config_reconfigure_in_place_and_code_change_rolls(serve):
    @serve.deployment(user_config={"greeting": "hi"})
    class Greeter:
        def __init__(self):
            self.greeting = None

        def reconfigure(self, config):
            self.greeting = config["greeting"]

        def __call__(self, name):
            return f"{self.greeting} {name}", os.getpid()

    handle = serve.run(Greeter.bind(), name="greet", route_prefix=None)
    text, pid = handle.remote("ann").result(timeout_s=30)
    assert text == "hi ann"
    handle = serve.run(
        Greeter.options(user_config={"greeting": "hello"}).bind(), name="greet", route_prefix=None
    )
    text, pid2 = handle.remote("ann").result(timeout_s=30)
    assert (text, pid2) == ("hello ann", pid)  # same replica, reconfigured

    @serve.deployment(name="Greeter", user_config={"greeting": "hey"})
    class GreeterV2:
        def reconfigure(self, config):
            self.greeting = config["greeting"].upper()

        def __call__(self, name):
            return f"{self.greeting} {name}", os.getpid()

    handle = serve.run(GreeterV2.bind(), name="greet", route_prefix=None)
    text, pid3 = handle.remote("ann").result(timeout_s=30)
    assert text == "HEY ann" and pid3 != pid  # new code: the replica was replaced
    states = serve.status().applications["greet"].deployments["Greeter"].replica_states
    assert states == {"RUNNING": 1}


def test_user_config_without_reconfigure_fails_the_deployment(serve):
    @serve.deployment(user_config={"a": 1})
    class NoReconfigure:
        def __call__(self):
            return 1

    with pytest.raises(RuntimeError, match=r"(?s)Deploying application nr failed.*no reconfigure"):
        serve.run(NoReconfigure.bind(), name="nr", route_prefix=None)


def test_replica_context_inside_and_outside(serve):
    @serve.deployment
    class WhoAmI:
        def __call__(self):
            ctx = serve.get_replica_context()
            return ctx.app_name, ctx.deployment, ctx.replica_tag

    handle = serve.run(WhoAmI.bind(), name="who", route_prefix=None)
    app, dep, tag = handle.remote().result(timeout_s=30)
    assert (app, dep) == ("who", "WhoAmI") and tag
    with pytest.raises(serve.exceptions.RayServeException, match="may only be called"):
        serve.get_replica_context()


def test_errors_reach_the_caller_as_the_users_type_and_http_500(serve_env, serve):
    @serve.deployment
    class Fails:
        def __call__(self, request=None):
            raise ValueError("bad input: expected a number")

        def lock(self):
            return threading.Lock()

    handle = serve.run(Fails.bind(), name="fails", route_prefix="/fails")
    with pytest.raises(ValueError, match="expected a number"):
        handle.remote().result(timeout_s=30)
    reply = httpx.get(f"{serve_env.url}/fails", timeout=30)
    assert reply.status_code == 500 and "expected a number" in reply.text
    with pytest.raises(Exception, match=r"(?i)pickl|serializ"):
        handle.lock.remote().result(timeout_s=30)
    with pytest.raises(AttributeError, match="Available methods"):
        handle.nothing.remote().result(timeout_s=30)


def test_a_response_that_is_not_json_gives_500_naming_the_fix(serve_env, serve):
    @serve.deployment
    class Odd:
        def __call__(self, request):
            return {"when": object()}

    serve.run(Odd.bind(), name="odd", route_prefix="/odd")
    reply = httpx.get(f"{serve_env.url}/odd", timeout=30)
    assert reply.status_code == 500
    assert "cannot be sent over HTTP as JSON" in reply.text and "Return a dict" in reply.text


def test_constructor_failure_is_a_clear_deploy_error(serve):
    @serve.deployment(max_constructor_retry_count=2)
    class Broken:
        def __init__(self):
            raise RuntimeError("model file missing")

    with pytest.raises(
        RuntimeError, match=r"(?s)Deploying application broken failed.*model file missing"
    ):
        serve.run(Broken.bind(), name="broken", route_prefix=None)
    assert serve.status().applications["broken"].status == "DEPLOY_FAILED"


def test_unknown_app_and_deployment(serve):
    with pytest.raises(serve.exceptions.RayServeException, match="'nope' does not exist"):
        serve.get_app_handle("nope")
    with pytest.raises(serve.exceptions.RayServeException, match="does not exist"):
        serve.get_deployment_handle("X", "nope")
    serve.delete("nope")  # deleting what is not there is a no-op, as in Ray


def test_backpressure_gives_backpressure_error_and_503(serve_env, serve, gate, wait_until):
    ray = serve_env.ray

    @serve.deployment(max_ongoing_requests=1, max_queued_requests=1)
    class Slow:
        async def __call__(self, request=None):
            await ray.get_actor("gate", namespace="serve-tests").wait.remote()
            return "done"

    handle = serve.run(Slow.bind(), name="slow", route_prefix="/slow")
    first = handle.remote()
    wait_until(lambda: ray.get(gate.count.remote()) == 1, timeout=30)
    second = handle.remote()  # queued at the handle
    with pytest.raises(serve.exceptions.BackPressureError, match="max_queued_requests=1"):
        handle.remote().result(timeout_s=30)
    ray.get(gate.open.remote())
    assert first.result(timeout_s=30) == "done" and second.result(timeout_s=30) == "done"


def test_http_503_when_the_queue_is_full(serve_env, serve, gate, wait_until):
    ray = serve_env.ray

    @serve.deployment(max_ongoing_requests=1, max_queued_requests=0)
    class Slow:
        async def __call__(self, request=None):
            await ray.get_actor("gate", namespace="serve-tests").wait.remote()
            return "done"

    serve.run(Slow.bind(), name="slow", route_prefix="/slow")
    results = {}

    def call():
        results["first"] = httpx.get(f"{serve_env.url}/slow", timeout=60)

    thread = threading.Thread(target=call)
    thread.start()
    wait_until(lambda: ray.get(gate.count.remote()) == 1, timeout=30)
    refused = httpx.get(f"{serve_env.url}/slow", timeout=30)
    assert refused.status_code == 503 and "backpressure" in refused.text
    ray.get(gate.open.remote())
    thread.join(60)
    assert results["first"].status_code == 200 and results["first"].text == "done"


def test_result_timeout(serve, gate):
    @serve.deployment
    class Slow:
        async def __call__(self):
            import rayground

            await rayground.get_actor("gate", namespace="serve-tests").wait.remote()

    handle = serve.run(Slow.bind(), name="timeout", route_prefix=None)
    with pytest.raises(TimeoutError, match=r"timeout_s=0\.2"):
        handle.remote().result(timeout_s=0.2)


def test_streaming_through_handle_and_http(serve_env, serve):
    from starlette.responses import StreamingResponse

    @serve.deployment
    class Streamer:
        def count(self, n):
            yield from range(n)

        async def __call__(self, request):
            n = int(request.query_params["n"])

            async def chunks():
                for i in range(n):
                    yield f"chunk{i};"

            return StreamingResponse(chunks(), media_type="text/plain")

    handle = serve.run(Streamer.bind(), name="stream", route_prefix="/stream")
    assert list(handle.options(stream=True).count.remote(4)) == [0, 1, 2, 3]
    with pytest.raises(TypeError, match=r"handle.options\(stream=True\)"):
        handle.count.remote(2).result(timeout_s=30)
    with httpx.stream("GET", f"{serve_env.url}/stream?n=3", timeout=30) as reply:
        parts = list(reply.iter_text())
    assert "".join(parts) == "chunk0;chunk1;chunk2;"


def test_a_streamed_http_response_flows_and_holds_its_replica_until_it_ends(
    serve_env, serve, gate, wait_until
):
    """The first chunk reaches the client while the app still runs; until the stream ends the
    request counts against max_ongoing_requests (so a second request is refused here)."""
    ray = serve_env.ray
    from starlette.responses import StreamingResponse

    @serve.deployment(max_ongoing_requests=1, max_queued_requests=0)
    class Ticker:
        async def __call__(self, request):
            async def chunks():
                yield "first;"
                await ray.get_actor("gate", namespace="serve-tests").wait.remote()
                yield "last"

            return StreamingResponse(chunks(), media_type="text/plain")

    serve.run(Ticker.bind(), name="ticker", route_prefix="/ticker")
    with httpx.stream("GET", f"{serve_env.url}/ticker", timeout=60) as reply:
        chunks = reply.iter_text()
        assert next(chunks) == "first;"
        wait_until(lambda: ray.get(gate.count.remote()) == 1, timeout=30)
        refused = httpx.get(f"{serve_env.url}/ticker", timeout=30)
        assert refused.status_code == 503 and "backpressure" in refused.text
        ray.get(gate.open.remote())
        assert "".join(chunks) == "last"
    again = httpx.get(f"{serve_env.url}/ticker", timeout=30)  # the slot is free again
    assert again.status_code == 200 and again.text == "first;last"


def test_serve_batch_groups_concurrent_calls(serve):
    @serve.deployment(max_ongoing_requests=20)
    class Batcher:
        def __init__(self):
            self.sizes = []

        @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.5)
        async def double(self, items):
            self.sizes.append(len(items))
            return [2 * x for x in items]

        async def __call__(self, x):
            return await self.double(x)

        def batch_sizes(self):
            return self.sizes

    handle = serve.run(Batcher.bind(), name="batch", route_prefix=None)
    responses = [handle.remote(i) for i in range(8)]
    assert [r.result(timeout_s=30) for r in responses] == [2 * i for i in range(8)]
    sizes = handle.batch_sizes.remote().result(timeout_s=30)
    assert sum(sizes) == 8 and max(sizes) > 1


def test_fastapi_ingress(serve_env, serve):
    fastapi = need_module("fastapi", "FastAPI is not installed (the `ray` extra's ray[serve])")
    app = fastapi.FastAPI()

    @serve.deployment
    @serve.ingress(app)
    class Api:
        def __init__(self):
            self.prefix = "item"

        @app.get("/items/{item_id}")
        def item(self, item_id: int):
            return {"name": f"{self.prefix}-{item_id}"}

        @app.post("/echo")
        async def echo(self, body: dict):
            return body

    serve.run(Api.bind(), name="api", route_prefix="/api")
    with httpx.Client(base_url=serve_env.url, timeout=30) as client:
        assert client.get("/api/items/7").json() == {"name": "item-7"}
        assert client.post("/api/echo", json={"a": 1}).json() == {"a": 1}
        assert client.get("/api/items/x").status_code == 422
