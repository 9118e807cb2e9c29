"""A replica: an async actor that builds the user's class (or wraps the function) and runs its
requests, at most `max_ongoing_requests` at a time (more wait here, counted as queued).

The controller creates it, then calls `initialize` (the user's constructor and `reconfigure`,
whose errors are the deployment's), `check_health` every `health_check_period_s`, and
`prepare_for_shutdown` before killing it. `watch` never returns: the controller learns that the
replica died when that call fails.

Sync methods of the user run on the replica's event loop, as in Ray Serve: a slow sync method
holds up the replica's other requests (write `async def` to overlap them).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
from typing import Any

import cloudpickle

from .config import DeploymentConfig
from .context import DeploymentID, ReplicaContext, ReplicaID, set_replica_context
from .http_util import make_receive, run_asgi, to_response

# A streamed HTTP response waits this long for the proxy to ask for its body.
_UNCLAIMED_STREAM_S = 60.0


class Replica:
    def __init__(
        self,
        app_name: str,
        deployment_name: str,
        replica_id: str,
        blob: bytes,
        config: DeploymentConfig,
    ) -> None:
        # Only bookkeeping here: the user's constructor runs in initialize(), on the event loop,
        # so its errors reach the controller as the deployment's errors.
        self._app_name = app_name
        self._deployment_name = deployment_name
        self._replica_id = replica_id
        self._blob = blob
        self._config = config
        self._callable: Any = None
        self._is_function = False
        self._ongoing = 0
        self._queued = 0
        self._processed = 0
        self._slots: asyncio.Semaphore | None = None
        # token -> (the response's item stream, the timer that drops it if never claimed)
        self._streams: dict[str, tuple[Any, asyncio.TimerHandle]] = {}
        self._stream_ids = itertools.count()

    # ------------------------------------------------------------ lifecycle
    async def initialize(self) -> dict[str, Any]:
        target, args, kwargs = cloudpickle.loads(self._blob)
        self._blob = b""
        replica_id = ReplicaID(
            self._replica_id, DeploymentID(self._deployment_name, self._app_name)
        )
        context = ReplicaContext(replica_id, None)
        set_replica_context(context)
        if inspect.isclass(target):
            instance = target(*args, **kwargs)
            if inspect.isawaitable(instance):
                instance = await instance
            self._callable = instance
        else:
            self._callable = target
            self._is_function = True
        context.servable_object = self._callable
        self._slots = asyncio.Semaphore(self._config.max_ongoing_requests)
        if self._config.user_config is not None:
            await self.reconfigure(self._config.user_config)
        return {"pid": _pid()}

    async def reconfigure(self, user_config: Any) -> None:
        self._config.user_config = user_config
        method = getattr(self._callable, "reconfigure", None)
        if method is None:
            raise ValueError(
                f"Deployment {self._deployment_name!r} was given user_config but its class has "
                "no reconfigure(self, config) method to receive it. Add one, or drop user_config."
            )
        result = method(user_config)
        if inspect.isawaitable(result):
            await result

    async def check_health(self) -> None:
        method = getattr(self._callable, "check_health", None)
        if method is not None and not self._is_function:
            result = method()
            if inspect.isawaitable(result):
                await result

    async def get_metrics(self) -> dict[str, Any]:
        return {
            "ongoing": self._ongoing,
            "queued": self._queued,
            "processed": self._processed,
            "time": time.time(),
        }

    async def watch(self) -> None:
        await asyncio.Event().wait()

    async def prepare_for_shutdown(self, timeout_s: float, wait_loop_s: float) -> None:
        """Wait (up to `timeout_s`) for the requests still running, then call the user's
        `__del__`, as Ray Serve does before it stops a replica."""
        deadline = time.monotonic() + timeout_s
        while (self._ongoing or self._queued) and time.monotonic() < deadline:
            await asyncio.sleep(min(wait_loop_s, max(0.0, deadline - time.monotonic()), 0.05))
        method = getattr(self._callable, "__del__", None)
        if method is not None and not self._is_function:
            try:
                result = method()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a failing __del__ must not keep the replica alive
                pass

    # ------------------------------------------------------------ requests
    def _method(self, name: str) -> Any:
        if self._is_function:
            if name != "__call__":
                raise AttributeError(
                    f"Deployment {self._deployment_name!r} is a function; call the handle "
                    f"itself (handle.remote()), not .{name}."
                )
            return self._callable
        method = getattr(self._callable, name, None)
        if method is None or not callable(method):
            names = sorted(
                n
                for n in dir(self._callable)
                if callable(getattr(self._callable, n, None)) and not n.startswith("_")
            )
            raise AttributeError(
                f"Tried to call a method {name!r} that does not exist on deployment "
                f"{self._deployment_name!r}. Available methods: {names}."
            )
        return method

    async def _enter(self) -> None:
        assert self._slots is not None, "initialize() has not run"
        self._queued += 1
        try:
            await self._slots.acquire()
        finally:
            self._queued -= 1
        self._ongoing += 1

    def _leave(self) -> None:
        assert self._slots is not None
        self._ongoing -= 1
        self._processed += 1
        self._slots.release()

    async def handle_request(self, meta: dict, method_name: str, *args: Any, **kwargs: Any) -> Any:
        await self._enter()
        try:
            result = self._method(method_name)(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            if inspect.isgenerator(result) or inspect.isasyncgen(result):
                raise TypeError(
                    f"Method {method_name!r} returned a generator. You must use "
                    "`handle.options(stream=True)` to call generators on a deployment."
                )
            return result
        finally:
            self._leave()

    async def handle_request_streaming(
        self, meta: dict, method_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        await self._enter()
        try:
            result = self._method(method_name)(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            if inspect.isasyncgen(result):
                async for item in result:
                    yield item
            elif inspect.isgenerator(result):
                for item in result:
                    yield item
            else:
                raise TypeError(
                    f"Called method {method_name!r} with `handle.options(stream=True)` but it "
                    "did not return a generator."
                )
        finally:
            self._leave()

    async def handle_http(self, meta: dict, scope: dict, body: bytes) -> tuple:
        """One HTTP request: ("full", status, headers, body) for a whole response (one plain
        call, awaited by the proxy with no thread in between: this is the path that decides
        HTTP latency), or ("start", status, headers, token) when the response is streamed; the
        proxy then drains the rest with handle_http_stream(token). A streamed request keeps
        its slot here until its stream ends (or is not claimed in time)."""
        await self._enter()
        streaming = False
        try:
            stream = run_asgi(self._http_app(body), scope, body)
            first = await stream.__anext__()
            if first[0] == "full":
                async for _ in stream:  # the app's own end (and any error it raises after)
                    pass
                return first
            token = f"{self._replica_id}:{next(self._stream_ids)}"
            timer = asyncio.get_running_loop().call_later(
                _UNCLAIMED_STREAM_S, self._drop_stream, token
            )
            self._streams[token] = (stream, timer)
            streaming = True
            _, status, headers = first
            return ("start", status, headers, token)
        finally:
            if not streaming:
                self._leave()

    async def handle_http_stream(self, token: str) -> Any:
        """The rest of a streamed HTTP response: ("body", bytes) items."""
        entry = self._streams.pop(token, None)
        if entry is None:
            raise RuntimeError(
                f"The streamed response {token!r} is not held by this replica (it ended, or "
                f"was not claimed within {_UNCLAIMED_STREAM_S:g} s)."
            )
        stream, timer = entry
        timer.cancel()
        try:
            async for item in stream:
                yield item
        finally:
            await stream.aclose()
            self._leave()

    def _drop_stream(self, token: str) -> None:
        entry = self._streams.pop(token, None)
        if entry is not None:
            stream, _ = entry
            task = asyncio.ensure_future(stream.aclose())
            task.add_done_callback(lambda _: self._leave())

    def _http_app(self, body: bytes) -> Any:
        """The ASGI app that answers this request: the ingress app, or the user's __call__'s
        return value made a starlette Response."""
        asgi_app = getattr(self._callable, "_serve_asgi_app", None)
        if asgi_app is not None:
            return asgi_app(self._callable)
        return _CallApp(self, body)


class _CallApp:
    """ASGI app that calls the deployment's __call__ with a starlette Request (awaited on the
    replica's loop) and sends what it returned as a response."""

    def __init__(self, replica: Replica, body: bytes) -> None:
        self._replica = replica
        self._body = body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        from starlette.requests import Request

        replica = self._replica
        result = replica._method("__call__")(Request(scope, make_receive(self._body)))
        if inspect.isawaitable(result):
            result = await result
        response = to_response(
            result, f"Deployment {replica._deployment_name!r} (its __call__ method)"
        )
        await response(scope, receive, send)


def _pid() -> int:
    import os

    return os.getpid()
