"""DeploymentHandle, DeploymentResponse and DeploymentResponseGenerator: calling a deployment
from the driver, from another replica or from the proxy, as in Ray Serve.

`handle.remote(...)` / `handle.method.remote(...)` returns at once; the response is awaited
inside async code or read with `.result(timeout_s=)` outside it, and can be passed (unawaited)
as an argument of another handle call: the replica receives its value.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
import time
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import rayground

from ._names import DEFAULT_APP_NAME

__all__ = ["DeploymentHandle", "DeploymentResponse", "DeploymentResponseGenerator"]


class DeploymentHandle:
    """Calls one deployment of one application. Picklable: pass it to tasks, actors and other
    deployments (a bound deployment given to a constructor arrives as one)."""

    def __init__(
        self,
        deployment_name: str,
        app_name: str = DEFAULT_APP_NAME,
        *,
        method_name: str = "__call__",
        stream: bool = False,
    ) -> None:
        self._deployment_name = deployment_name
        self._app_name = app_name
        self._method_name = method_name
        self._stream = stream
        self._router: Any = None

    @property
    def deployment_name(self) -> str:
        return self._deployment_name

    @property
    def app_name(self) -> str:
        return self._app_name

    def options(
        self,
        *,
        method_name: str | None = None,
        stream: bool | None = None,
        multiplexed_model_id: str | None = None,
        use_new_handle_api: bool | None = None,
    ) -> DeploymentHandle:
        """A copy that calls another method and/or streams (`stream=True` for generators)."""
        if multiplexed_model_id:
            raise NotImplementedError("Model multiplexing is not supported by rayground.serve.")
        handle = DeploymentHandle(
            self._deployment_name,
            self._app_name,
            method_name=method_name if method_name is not None else self._method_name,
            stream=stream if stream is not None else self._stream,
        )
        handle._router = self._router
        return handle

    def __getattr__(self, name: str) -> DeploymentHandle:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.options(method_name=name)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Send a request; returns a DeploymentResponse (or a DeploymentResponseGenerator for a
        handle with `stream=True`)."""
        router = self._router
        if router is None or router._closed:
            from .router import router_for

            router = self._router = router_for(self._app_name, self._deployment_name)
        meta = {"request_id": uuid.uuid4().hex[:16], "method": self._method_name}
        if any(isinstance(a, DeploymentResponse) for a in (*args, *kwargs.values())):
            assigned = _after_responses(router, self._method_name, args, kwargs, self._stream, meta)
        else:
            assigned = router.assign(
                self._method_name, args, kwargs, stream=self._stream, meta=meta
            )
        if self._stream:
            return DeploymentResponseGenerator(assigned, meta["request_id"])
        return DeploymentResponse(assigned, meta["request_id"])

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_handle,
            (self._deployment_name, self._app_name, self._method_name, self._stream),
        )

    def __repr__(self) -> str:
        return f"DeploymentHandle(deployment='{self._deployment_name}')"


def _rebuild_handle(deployment: str, app: str, method: str, stream: bool) -> DeploymentHandle:
    return DeploymentHandle(deployment, app, method_name=method, stream=stream)


def _after_responses(
    router: Any, method: str, args: tuple, kwargs: dict, stream: bool, meta: dict
) -> concurrent.futures.Future:
    """Send once every DeploymentResponse among the arguments has a replica; each is replaced
    by its ObjectRef, so the receiving replica gets the value (as in Ray)."""
    outer: concurrent.futures.Future = concurrent.futures.Future()
    responses = [a for a in (*args, *kwargs.values()) if isinstance(a, DeploymentResponse)]
    remaining = [len(responses)]
    lock = threading.Lock()  # the responses' callbacks may run on different threads
    context = contextvars.copy_context()  # send it as the caller (its job and task)

    def resolve(value: Any) -> Any:
        return value._assigned.result() if isinstance(value, DeploymentResponse) else value

    def submit() -> None:
        try:
            real_args = tuple(resolve(a) for a in args)
            real_kwargs = {k: resolve(v) for k, v in kwargs.items()}
        except BaseException as exc:  # an upstream request was refused: so is this one
            outer.set_exception(exc)
            return
        inner = router.assign(method, real_args, real_kwargs, stream=stream, meta=meta)
        _chain(inner, outer)

    def one_done(_: concurrent.futures.Future) -> None:
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            router._state.executor().submit(context.run, submit)

    for response in responses:
        response._assigned.add_done_callback(one_done)
    return outer


def _chain(inner: concurrent.futures.Future, outer: concurrent.futures.Future) -> None:
    def copy(fut: concurrent.futures.Future) -> None:
        if fut.exception() is not None:
            outer.set_exception(fut.exception())
        else:
            outer.set_result(fut.result())

    inner.add_done_callback(copy)


def _check_not_in_event_loop(skip: bool) -> None:
    """As in Ray Serve: blocking on a response inside a running event loop (an async method, a
    Jupyter cell) would stall that loop, so it is refused with the way out."""
    if skip:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "Sync methods should not be called from within an `asyncio` event loop. Use "
        "`await response` instead."
    )


def _timeout_error(timeout_s: float | None) -> TimeoutError:
    return TimeoutError(
        f"The request did not finish within timeout_s={timeout_s}. Pass a larger timeout_s, "
        "or check serve.status() for a deployment that is stuck or overloaded."
    )


class _ResponseBase:
    def __init__(self, assigned: concurrent.futures.Future, request_id: str) -> None:
        self._assigned = assigned
        self._request_id = request_id
        self._cancelled = False

    @property
    def request_id(self) -> str:
        return self._request_id

    def _assigned_sync(self, timeout_s: float | None) -> Any:
        try:
            return self._assigned.result(timeout_s)
        except concurrent.futures.TimeoutError:
            raise _timeout_error(timeout_s) from None
        except concurrent.futures.CancelledError:
            from .exceptions import RequestCancelledError

            raise RequestCancelledError(self._request_id) from None

    def cancel(self) -> None:
        """Cancel the request: a queued one is dropped, a running one is cancelled."""
        self._cancelled = True
        if self._assigned.cancel():
            return
        if self._assigned.done() and self._assigned.exception() is None:
            target = self._assigned.result()
            ref = target.completed() if hasattr(target, "completed") else target
            rayground.cancel(ref)

    def cancelled(self) -> bool:
        return self._cancelled


class DeploymentResponse(_ResponseBase):
    """The eventual result of one request: `await response` or `response.result()`."""

    def result(self, *, timeout_s: float | None = None, _skip_asyncio_check: bool = False) -> Any:
        """Wait for the value; raises TimeoutError after `timeout_s`, the deployment's error
        (an instance of the user's exception class) if it failed. Inside a running event loop
        (async code, a notebook cell) use `await response` instead."""
        _check_not_in_event_loop(_skip_asyncio_check)
        start = time.monotonic()
        ref = self._assigned_sync(timeout_s)
        remaining = None if timeout_s is None else max(0.0, timeout_s - (time.monotonic() - start))
        try:
            return rayground.get(ref, timeout=remaining)
        except rayground.exceptions.GetTimeoutError:
            raise _timeout_error(timeout_s) from None
        except rayground.exceptions.TaskCancelledError:
            from .exceptions import RequestCancelledError

            raise RequestCancelledError(self._request_id) from None

    def __await__(self) -> Generator[Any, None, Any]:
        return self._await().__await__()

    async def _await(self) -> Any:
        ref = await asyncio.wrap_future(self._assigned)
        return await ref

    async def _to_object_ref(self) -> Any:
        return await asyncio.wrap_future(self._assigned)

    def _to_object_ref_sync(self, _timeout_s: float | None = None) -> Any:
        return self._assigned_sync(_timeout_s)

    def __repr__(self) -> str:
        return f"DeploymentResponse(request_id={self._request_id})"


class DeploymentResponseGenerator(_ResponseBase):
    """The items of a streaming request (`handle.options(stream=True)`), as they are made:
    `for item in gen` outside async code, `async for item in gen` inside it."""

    def __init__(self, assigned: concurrent.futures.Future, request_id: str) -> None:
        super().__init__(assigned, request_id)
        self._refs: Any = None

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        _check_not_in_event_loop(False)
        if self._refs is None:
            self._refs = self._assigned_sync(None)
        return rayground.get(next(self._refs))

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._refs is None:
            self._refs = await asyncio.wrap_future(self._assigned)
        loop = asyncio.get_running_loop()
        # Waiting for the next item blocks: do it off the event loop.
        ref = await loop.run_in_executor(None, next, self._refs, None)
        if ref is None:
            raise StopAsyncIteration
        return await ref

    def __repr__(self) -> str:
        return f"DeploymentResponseGenerator(request_id={self._request_id})"
