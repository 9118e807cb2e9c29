"""The HTTP proxy: an async actor running uvicorn + starlette on its event loop. It follows the
route table (route_prefix -> application's ingress deployment) through the long poll and sends
each request to the ingress through that deployment's router.

Answers: the replica's response; 404 for a path no application serves; 503 when the
deployment's queue is full (BackPressureError); 500 with the error text when the deployment
raised or its replica died. `/-/routes` lists the routes and `/-/healthz` answers "success", as
in Ray Serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from rayground.exceptions import RayActorError, RayTaskError

from ._names import HTTP_METHOD, ROUTES_KEY
from .config import HTTPOptions
from .exceptions import BackPressureError, DeploymentUnavailableError
from .http_util import scope_to_send


class ProxyActor:
    def __init__(self, http_options: HTTPOptions) -> None:
        self._options = http_options
        self._routes: dict[str, tuple[str, str]] = {}
        self._server: Any = None
        self._serve_task: asyncio.Task | None = None

    async def start(self) -> None:
        import uvicorn

        from . import process_state

        state = process_state.current()
        state.subscribe(ROUTES_KEY, self._on_routes)
        self._routes = (await state.controller().get_snapshot.remote(ROUTES_KEY))["routes"]
        config = uvicorn.Config(
            self._asgi,
            host=self._options.host,
            port=self._options.port,
            root_path=self._options.root_path,
            timeout_keep_alive=self._options.keep_alive_timeout_s,
            lifespan="off",
            interface="asgi3",
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._serve_task = asyncio.ensure_future(self._server.serve())
        while not self._server.started:
            if self._serve_task.done():
                # uvicorn logs the bind error and exits; say what to change.
                raise OSError(
                    f"The Serve HTTP proxy could not listen on {self._options.host}:"
                    f"{self._options.port} (is the port in use?). Choose another with "
                    "serve.start(http_options={'port': ...})."
                )
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop listening (the port is free when this returns)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._serve_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._serve_task, 10)

    def _on_routes(self, snapshot: dict) -> None:
        self._routes = dict(snapshot.get("routes", {}))

    def _match(self, path: str) -> tuple[str, str, str] | None:
        best = None
        for prefix, target in self._routes.items():
            if prefix == "/" or path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                if best is None or len(prefix) > len(best[0]):
                    best = (prefix, *target)
        return best

    async def _asgi(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope.get("path", "/")
        if path == "/-/routes":
            routes = {prefix: app for prefix, (app, _) in self._routes.items()}
            await _reply(send, 200, json.dumps(routes).encode(), "application/json")
            return
        if path == "/-/healthz":
            await _reply(send, 200, b"success", "text/plain")
            return
        match = self._match(path)
        if match is None:
            await _reply(
                send,
                404,
                f"Path '{path}' not found. Ping http://.../-/routes for available routes.".encode(),
                "text/plain",
            )
            return
        prefix, app_name, ingress = match
        body = await _read_body(receive)
        from .router import router_for

        router = router_for(app_name, ingress)
        sub_scope = scope_to_send(scope, "" if prefix == "/" else prefix)
        try:
            assigned = router.assign(
                HTTP_METHOD, (sub_scope, body), {}, stream=False, meta={"route": prefix}
            )
            # Usually a replica is free and the future is already done: no loop round trip.
            ref, slot = (
                assigned.result() if assigned.done() else await asyncio.wrap_future(assigned)
            )
            answer = await ref
            if answer[0] == "full":
                _, status, headers, body_out = answer
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body_out, "more_body": False})
                return
            _, status, headers, token = answer
            gen = router.open_http_stream(slot, token)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await _relay_body(gen, send)
        except BackPressureError as exc:
            await _reply(send, 503, str(exc).encode(), "text/plain")
        except (RayTaskError, RayActorError, DeploymentUnavailableError) as exc:
            await _reply(send, 500, _error_body(exc), "text/plain")
        except Exception as exc:  # the proxy must answer every request
            await _reply(send, 500, _error_body(exc), "text/plain")


async def _relay_body(gen: Any, send: Any) -> None:
    """Send a streamed response's body items as they come; end the body where the stream
    ends or breaks (the headers are out, so an error can only cut it short)."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            ref = await loop.run_in_executor(None, next, gen, None)
            if ref is None:
                break
            item = await ref
            await send({"type": "http.response.body", "body": item[1], "more_body": True})
    except Exception:
        # The status line went out already: the client sees the body end early, as in Ray.
        pass
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _reply(send: Any, status: int, body: bytes, content_type: str) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _error_body(exc: BaseException) -> bytes:
    return f"Internal Server Error: {type(exc).__name__}: {exc}".encode()
