"""HTTP and WebSocket routes under <base_url>/rayground/, authenticated like every Jupyter handler.

    GET    /rayground/clusters        the clusters on this machine (the list the panel shows)
    POST   /rayground/clusters        start a local cluster: {"num_cpus"?, "object_store_memory"?}
    DELETE /rayground/clusters/<id>   stop a cluster started from the panel or `rayground start`
    GET    /rayground/curriculum      lessons and the learner's progress
    WS     /rayground/feed            live updates (messages in docs/architecture.md)

On the WebSocket the browser sends {"type": "watch", "kernel_id": str|null, "cluster": str|null}
whenever the notebook in front or its pick changes; every other message goes server -> browser.
"""

from __future__ import annotations

import atexit
import json
from typing import Any

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.utils import ensure_async, url_path_join
from tornado import web, websocket

from .cluster_hub import ClusterError, ClusterHub

AUTH_RESOURCE = "rayground"
_MAX_MESSAGE = 64 * 1024  # what the browser sends is tiny; refuse anything else


class _Base(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def hub(self) -> ClusterHub:
        return self.settings["rayground_hub"]

    def _fail(self, exc: ClusterError) -> None:
        self.set_status(exc.status)
        self.finish(json.dumps({"message": str(exc)}))


class ClustersHandler(_Base):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.hub.poll()
        self.finish(json.dumps({"clusters": self.hub.clusters()}))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
            if not isinstance(body, dict) or set(body) - {"num_cpus", "object_store_memory"}:
                raise ValueError
        except ValueError:
            return self._fail(
                ClusterError(
                    400,
                    'the body must be a JSON object such as {"num_cpus": 2, '
                    '"object_store_memory": 1000000000} (both optional)',
                )
            )
        try:
            info = await self.hub.start_cluster(
                body.get("num_cpus"), body.get("object_store_memory")
            )
        except ClusterError as exc:
            return self._fail(exc)
        self.set_status(201)
        self.finish(json.dumps(info))


class ClusterHandler(_Base):
    @web.authenticated
    @authorized
    async def get(self, cid: str) -> None:
        await self.hub.poll()
        if cid not in self.hub.sessions:
            raise web.HTTPError(404, f"no cluster {cid!r} on this machine")
        self.finish(json.dumps(self.hub.info(cid)))

    @web.authenticated
    @authorized
    async def delete(self, cid: str) -> None:
        try:
            await self.hub.stop_cluster(cid)
        except ClusterError as exc:
            return self._fail(exc)
        self.set_status(204)
        self.finish()


class CurriculumHandler(_Base):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(json.dumps(self.hub.curriculum.state()))


class FeedSocket(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    """One browser's live feed; the ClusterHub decides what it is sent."""

    auth_resource = AUTH_RESOURCE

    def initialize(self) -> None:
        self.target: dict[str, str | None] = {"kernel_id": None, "cluster": None}
        self.watching: str | None = None
        self._open = False

    def set_default_headers(self) -> None:
        # JupyterHandler's headers (CSP etc.) do not apply to a WebSocket upgrade.
        pass

    @property
    def hub(self) -> ClusterHub:
        return self.settings["rayground_hub"]

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403)
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open()  # WebSocketMixin: keep-alive pings
        self._open = True
        self.hub.add_socket(self)

    def on_message(self, message: str | bytes) -> None:
        try:
            if len(message) > _MAX_MESSAGE:
                raise ValueError("message too large")
            msg = json.loads(message)
            if not isinstance(msg, dict) or msg.get("type") != "watch":
                raise ValueError('expected {"type": "watch", ...}')
            kernel_id, cluster = msg.get("kernel_id"), msg.get("cluster")
            for value in (kernel_id, cluster):
                if value is not None and (not isinstance(value, str) or len(value) > 200):
                    raise ValueError("kernel_id and cluster must be strings or null")
        except ValueError as exc:
            self.send({"type": "error", "message": f"rayground: bad message from the panel: {exc}"})
            return
        self.hub.set_target(self, kernel_id or None, cluster or None)

    def on_close(self) -> None:
        self._open = False
        self.hub.remove_socket(self)

    def send(self, message: dict[str, Any]) -> None:
        if not self._open:
            return
        try:
            self.write_message(json.dumps(message, default=str))
        except websocket.WebSocketClosedError:
            self._open = False


def setup_handlers(serverapp: Any) -> None:
    web_app = serverapp.web_app
    hub = ClusterHub(serverapp.root_dir, serverapp.kernel_manager, serverapp.log)
    web_app.settings["rayground_hub"] = hub
    base = url_path_join(web_app.settings["base_url"], "rayground")
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "clusters"), ClustersHandler),
            (url_path_join(base, "clusters", r"([\w.-]+)"), ClusterHandler),
            (url_path_join(base, "curriculum"), CurriculumHandler),
            (url_path_join(base, "feed"), FeedSocket),
        ],
    )
    hub.start(getattr(serverapp, "io_loop", None))
    atexit.register(hub.shutdown)
    serverapp.log.info("rayground: lab panel routes at %s", base)
