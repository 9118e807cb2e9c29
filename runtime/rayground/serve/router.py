"""Sends a deployment's requests to its replicas: power of two choices on queue length, a cap
of `max_ongoing_requests` per replica, and a queue of at most `max_queued_requests` behind it.

    handle.remote() -> Router.assign -> [queue] -> replica.handle_request.remote() -> ObjectRef
    ObjectRef done (I/O thread) -> executor: count it off, send the next queued request

The counts are this process's own requests; every process that calls a deployment has its own
router, as in Ray. The replica set comes from the controller (first by asking, then by the
long-poll listener), so replicas that start, stop or die are followed.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rayground.exceptions import RayActorError

from ._names import HTTP_METHOD, deployment_key
from .exceptions import BackPressureError, DeploymentUnavailableError


@dataclass
class _Slot:
    replica_id: str
    actor: Any
    ongoing: int = 0


@dataclass
class _Request:
    method: str
    args: tuple
    kwargs: dict
    stream: bool
    meta: dict
    assigned: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    # The caller's context (which job and task it runs in): a queued request is sent later
    # from the router's thread, and must still count as the caller's call.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


class Router:
    def __init__(self, state: Any, app_name: str, deployment_name: str) -> None:
        self._state = state
        self.app_name = app_name
        self.deployment_name = deployment_name
        self.key = deployment_key(app_name, deployment_name)
        self._lock = threading.Lock()
        self._replicas: dict[str, _Slot] = {}
        self._max_ongoing = 1
        self._max_queued = -1
        self._known = False  # a first snapshot has arrived
        self._exists = True
        self._queue: deque[_Request] = deque()
        self._closed = False
        state.subscribe(self.key, self._on_snapshot_threadsafe)
        ref = state.controller().get_snapshot.remote(self.key)
        ref.future().add_done_callback(self._on_first_snapshot)

    # ------------------------------------------------------------ replica set
    def _on_first_snapshot(self, fut: concurrent.futures.Future) -> None:
        try:
            snapshot = fut.result()
        except Exception as exc:
            self._fail_queue(exc)
            return
        self._on_snapshot_threadsafe(snapshot)

    def _on_snapshot_threadsafe(self, snapshot: dict) -> None:
        self._state.executor().submit(self._apply, snapshot)

    def _apply(self, snapshot: dict) -> None:
        with self._lock:
            self._known = True
            self._exists = snapshot["exists"]
            self._max_ongoing = snapshot.get("max_ongoing_requests", self._max_ongoing)
            self._max_queued = snapshot.get("max_queued_requests", self._max_queued)
            old = self._replicas
            self._replicas = {}
            for replica_id, actor in snapshot.get("replicas", []):
                slot = old.get(replica_id) or _Slot(replica_id, actor)
                self._replicas[replica_id] = slot
            exists = self._exists
        if not exists:
            self._fail_queue(
                DeploymentUnavailableError(
                    f"Deployment {self.deployment_name!r} of application {self.app_name!r} does "
                    "not exist (it was deleted or never deployed). Check serve.status()."
                )
            )
        else:
            self._drain()

    # ------------------------------------------------------------ requests
    def assign(
        self, method: str, args: tuple, kwargs: dict, *, stream: bool, meta: dict
    ) -> concurrent.futures.Future:
        """Queue or send a request; the future gives its ObjectRef (or ObjectRefGenerator) once
        a replica has it, or BackPressureError when the queue is full. For an HTTP request
        (HTTP_METHOD) it gives (ObjectRef, slot): the slot is where a streamed response's rest
        is asked for (open_http_stream)."""
        request = _Request(method, args, kwargs, stream, meta)
        with self._lock:
            slot = self._choose() if not self._queue else None
            if slot is None:
                if self._max_queued != -1 and len(self._queue) >= self._max_queued:
                    request.assigned.set_exception(
                        BackPressureError(len(self._queue), self._max_queued)
                    )
                    return request.assigned
                self._queue.append(request)
                return request.assigned
            slot.ongoing += 1
        self._send(slot, request)
        return request.assigned

    def _choose(self) -> _Slot | None:
        """Power of two choices: of two replicas picked at random among those below
        max_ongoing_requests, the one with fewer requests of ours in flight."""
        if not self._known:
            return None
        free = [s for s in self._replicas.values() if s.ongoing < self._max_ongoing]
        if len(free) <= 1:
            return free[0] if free else None
        a, b = random.sample(free, 2)
        return a if a.ongoing <= b.ongoing else b

    def _send(self, slot: _Slot, request: _Request) -> None:
        try:
            if request.method == HTTP_METHOD:
                result = slot.actor.handle_http.remote(request.meta, *request.args)
                request.assigned.set_result((result, slot))
                result.future().add_done_callback(lambda fut: self._http_answered(slot, fut))
                return
            elif request.stream:
                result = slot.actor.handle_request_streaming.remote(
                    request.meta, request.method, *request.args, **request.kwargs
                )
                done_ref = result.completed()
            else:
                result = slot.actor.handle_request.remote(
                    request.meta, request.method, *request.args, **request.kwargs
                )
                done_ref = result
        except BaseException as exc:
            self._finished(slot, None)
            request.assigned.set_exception(exc)
            return
        request.assigned.set_result(result)
        done_ref.future().add_done_callback(lambda fut: self._finished(slot, fut))

    def _http_answered(self, slot: _Slot, fut: concurrent.futures.Future) -> None:
        # A streamed response still runs on the replica: open_http_stream's end counts it off.
        if fut.cancelled() or fut.exception() is not None or fut.result()[0] != "start":
            self._finished(slot, fut)

    def open_http_stream(self, slot: _Slot, token: str) -> Any:
        """The rest of a streamed HTTP response that `slot`'s replica holds under `token`: an
        ObjectRefGenerator of ("body", bytes) items. The request counts as in flight there
        until that stream has ended."""
        try:
            gen = slot.actor.handle_http_stream.remote(token)
        except BaseException:
            self._finished(slot, None)
            raise
        gen.completed().future().add_done_callback(lambda fut: self._finished(slot, fut))
        return gen

    def _finished(self, slot: _Slot, fut: concurrent.futures.Future | None) -> None:
        died = False
        if fut is not None and not fut.cancelled():
            died = isinstance(fut.exception(), RayActorError)
        with self._lock:
            slot.ongoing -= 1
            if died:
                # Stop sending there now; the controller replaces it and tells us.
                self._replicas.pop(slot.replica_id, None)
            waiting = bool(self._queue)
        if waiting and not self._closed:
            self._state.executor().submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                slot = self._choose()
                if slot is None:
                    return
                request = self._queue.popleft()
                slot.ongoing += 1
            if request.assigned.cancelled():
                with self._lock:
                    slot.ongoing -= 1
                continue
            request.context.run(self._send, slot, request)

    def _fail_queue(self, exc: BaseException) -> None:
        with self._lock:
            waiting, self._queue = list(self._queue), deque()
        for request in waiting:
            if not request.assigned.done():
                request.assigned.set_exception(exc)

    # ------------------------------------------------------------ views
    def queued(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        self._closed = True
        self._fail_queue(
            DeploymentUnavailableError(
                "Serve was shut down in this process (serve.shutdown() or ray.shutdown())."
            )
        )


def router_for(app_name: str, deployment_name: str) -> Router:
    from . import process_state

    state = process_state.current()
    key = deployment_key(app_name, deployment_name)
    router = state.routers.get(key)
    if router is not None:
        return router
    with state.router_lock:  # one router per deployment and process
        router = state.routers.get(key)
        if router is None:
            router = state.routers[key] = Router(state, app_name, deployment_name)
        return router


__all__ = ["Router", "router_for"]
