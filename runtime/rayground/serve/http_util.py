"""HTTP between the proxy and a replica. The proxy sends the request's ASGI scope (plain data)
and body; the replica answers with a stream of items:

    ("full", status, headers, body)      the whole response at once (most requests)
    ("start", status, headers)           then ("body", bytes) ... for streamed responses

A return value becomes a response as in Ray Serve: a starlette Response as it is, str as
text/plain, bytes as they are, None as an empty 200, generators streamed, anything else as JSON.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator
from typing import Any

_SCOPE_KEYS = (
    "type",
    "asgi",
    "http_version",
    "method",
    "scheme",
    "path",
    "raw_path",
    "query_string",
    "root_path",
    "headers",
    "client",
    "server",
)


def scope_to_send(scope: dict[str, Any], root_path: str) -> dict[str, Any]:
    """What of the ASGI scope crosses to the replica (the rest holds live server objects)."""
    out = {k: scope[k] for k in _SCOPE_KEYS if k in scope}
    out["headers"] = [tuple(h) for h in scope.get("headers", [])]
    if root_path:
        out["root_path"] = scope.get("root_path", "") + root_path
    return out


def make_receive(body: bytes) -> Any:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects from a replica's view
        return {"type": "http.disconnect"}

    return receive


def to_response(value: Any, where: str) -> Any:
    """A starlette Response for what the user's code returned."""
    from starlette.responses import PlainTextResponse, Response, StreamingResponse

    if isinstance(value, Response):
        return value
    if inspect.isgenerator(value) or inspect.isasyncgen(value):
        return StreamingResponse(_as_bytes(value), media_type="text/plain")
    if value is None:
        return Response(status_code=200)
    if isinstance(value, str):
        return PlainTextResponse(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return Response(bytes(value))
    try:
        body = json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{where} returned a {type(value).__name__}, which cannot be sent over HTTP as "
            f"JSON ({exc}). Return a dict, list, str, bytes or a starlette Response."
        ) from None
    return Response(body, media_type="application/json")


def _json_default(value: Any) -> Any:
    # NumPy scalars and arrays are what models return most often.
    for attr in ("tolist", "item"):
        method = getattr(value, attr, None)
        if callable(method):
            return method()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


async def _as_bytes(gen: Any) -> AsyncIterator[bytes]:
    if inspect.isasyncgen(gen):
        async for item in gen:
            yield _chunk(item)
    else:
        for item in gen:
            yield _chunk(item)


def _chunk(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    return json.dumps(item, default=_json_default).encode()


async def run_asgi(app: Any, scope: dict, body: bytes) -> AsyncIterator[tuple]:
    """Run an ASGI app (a Response or FastAPI) on one request; yield the items above."""
    queue: asyncio.Queue = asyncio.Queue()

    async def send(message: dict[str, Any]) -> None:
        await queue.put(message)

    async def run() -> None:
        try:
            await app(scope, make_receive(body), send)
        finally:
            await queue.put(None)

    task = asyncio.ensure_future(run())
    try:
        start = await queue.get()
        if start is None:
            await task  # raises the app's error
            raise RuntimeError("The ASGI app returned without sending a response.")
        status, headers = start["status"], [tuple(h) for h in start.get("headers", [])]
        first = await queue.get()
        if first is None or not first.get("more_body", False):
            body_out = b"" if first is None else first.get("body", b"")
            yield ("full", status, headers, body_out)
        else:
            yield ("start", status, headers)
            message = first
            while message is not None:
                if message.get("body"):
                    yield ("body", message["body"])
                message = await queue.get()
        await task
    finally:
        if not task.done():
            task.cancel()
