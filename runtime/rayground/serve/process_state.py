"""The one per-process record of Serve's client side: the controller's handle, the routers of
the deployments this process calls, and the long-poll listener that keeps them current.

    controller --listen(known versions)--> listener thread --update(snapshot)--> routers

It belongs to one cluster: when the process is connected to another cluster (after
`shutdown()`/`init()`), it starts afresh.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

import rayground

from ._names import CONTROLLER_NAME, SERVE_NAMESPACE

_LISTEN_TIMEOUT_S = 30.0  # the controller answers a long poll after this long even if unchanged


class ServeProcessState:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.lock = threading.Lock()
        self.router_lock = threading.Lock()
        self._controller: Any = None
        self.routers: dict[str, Any] = {}
        # key -> (version, callback(snapshot)); the listener asks the controller for these.
        self.subscribers: dict[str, tuple[int, Callable[[dict], None]]] = {}
        self._listener: threading.Thread | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.closed = False

    # ------------------------------------------------------------ controller
    def controller(self, *, required: bool = True) -> Any:
        with self.lock:
            if self._controller is not None:
                return self._controller
        try:
            handle = rayground.get_actor(CONTROLLER_NAME, namespace=SERVE_NAMESPACE)
        except ValueError:
            if not required:
                return None
            from .exceptions import RayServeException

            raise RayServeException(
                "There is no Serve instance running on this cluster. Start one with "
                "serve.start() or serve.run(app)."
            ) from None
        with self.lock:
            self._controller = handle
        return handle

    def set_controller(self, handle: Any) -> None:
        with self.lock:
            self._controller = handle

    # ------------------------------------------------------------ background work
    def executor(self) -> concurrent.futures.ThreadPoolExecutor:
        """One thread that sends queued requests and applies updates: callbacks of finished
        calls run on the client's I/O thread, which must not block on sending."""
        with self.lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="rayground-serve-router"
                )
            return self._executor

    def subscribe(self, key: str, callback: Callable[[dict], None]) -> None:
        with self.lock:
            self.subscribers[key] = (-1, callback)
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name="rayground-serve-listener", daemon=True
                )
                self._listener.start()

    def _listen(self) -> None:
        global_version = -1
        while not self.closed:
            with self.lock:
                known = {key: version for key, (version, _) in self.subscribers.items()}
            try:
                controller = self.controller()
                ref = controller.listen.remote(known, global_version, _LISTEN_TIMEOUT_S)
                global_version, updates = rayground.get(ref, timeout=_LISTEN_TIMEOUT_S + 30)
            except Exception:
                # The controller or the cluster is gone (serve.shutdown(), ray.shutdown()):
                # there is nothing left to follow.
                return
            for key, snapshot in updates.items():
                with self.lock:
                    entry = self.subscribers.get(key)
                    if entry is None:
                        continue
                    self.subscribers[key] = (snapshot["version"], entry[1])
                entry[1](snapshot)

    def close(self) -> None:
        self.closed = True
        with self.lock:
            routers = list(self.routers.values())
            self.routers.clear()
            self.subscribers.clear()
            self._controller = None
            executor, self._executor = self._executor, None
        for router in routers:
            router.close()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


class _Holder:
    """Keeps the state of this process (not a bare module global: it is replaced as a whole
    when the process moves to another cluster)."""

    state: ServeProcessState | None = None
    lock = threading.Lock()


def current(*, connect: bool = True) -> ServeProcessState:
    """This process's Serve state for the cluster it is connected to (starting a local cluster
    first, as Ray Serve does, when `connect` and none is running)."""
    if not rayground.is_initialized():
        if not connect:
            raise RuntimeError("rayground is not initialized")
        rayground.init()
    cluster = rayground.get_runtime_context().gcs_address
    with _Holder.lock:
        state = _Holder.state
        if state is None or state.cluster != cluster or state.closed:
            if state is not None:
                state.close()
            state = _Holder.state = ServeProcessState(cluster)
        return state


def forget() -> None:
    """Drop this process's state (after serve.shutdown())."""
    with _Holder.lock:
        state, _Holder.state = _Holder.state, None
    if state is not None:
        state.close()
