"""`%serve_status`: a live view of Serve: applications, deployments, replicas, requests per
second and queue lengths. On real Ray it shows what `serve.status()` gives (no load figures).

It refreshes about once a second while live (requests do not all show as events), in place, and
its text form (what nbval compares) lists the same rows without the changing figures' history.
"""

from __future__ import annotations

import html
import importlib
import threading
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w

from .views import LiveView

REFRESH_S = 1.0


@dataclass
class DeploymentRow:
    app: str
    app_status: str
    route: str | None
    name: str
    status: str
    replicas: dict[str, int]
    requests_per_s: float | None = None
    ongoing: int | None = None
    queued: int | None = None


@dataclass
class ServeSnapshot:
    running: bool
    rows: list[DeploymentRow] = field(default_factory=list)
    apps: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def text(self) -> str:
        if not self.running:
            return "Serve: not running (serve.run(app) starts it)"
        replicas = sum(sum(r.replicas.values()) for r in self.rows)
        lines = [
            f"Serve: {len(self.apps)} application(s), {len(self.rows)} deployment(s), "
            f"{replicas} replica(s)"
        ]
        for app, (status, route) in self.apps.items():
            lines.append(f"  {app}: {status}" + (f" (route {route})" if route else ""))
            for row in (r for r in self.rows if r.app == app):
                states = ", ".join(f"{k} {v}" for k, v in sorted(row.replicas.items())) or "none"
                load = ""
                if row.requests_per_s is not None:
                    load = (
                        f", {row.requests_per_s:.1f} req/s, ongoing {row.ongoing}, "
                        f"queued {row.queued}"
                    )
                lines.append(f"    {row.name}: {row.status}, replicas {states}{load}")
        return "\n".join(lines)


def snapshot(backend_name: str) -> ServeSnapshot:
    serve = importlib.import_module(f"{backend_name}.serve")
    status = serve.status()
    load: dict[str, Any] = {}
    if backend_name == "rayground":
        from rayground.serve.observe import deployment_load

        load = deployment_load()
    routes = {}
    if load or backend_name == "rayground":
        routes = _routes_rayground()
    snap = ServeSnapshot(running=bool(status.proxies) or bool(status.applications))
    for app_name, app in status.applications.items():
        snap.apps[app_name] = (str(app.status), routes.get(app_name))
        for dep_name, dep in app.deployments.items():
            row = DeploymentRow(
                app_name,
                str(app.status),
                routes.get(app_name),
                dep_name,
                str(dep.status),
                dict(dep.replica_states),
            )
            info = load.get(f"{app_name}#{dep_name}")
            if info is not None:
                row.requests_per_s = info["requests_per_s"]
                row.ongoing = sum(r["ongoing"] for r in info["replicas"])
                row.queued = sum(r["queued"] for r in info["replicas"])
            snap.rows.append(row)
    return snap


def _routes_rayground() -> dict[str, str | None]:
    import rayground
    from rayground.serve import process_state

    controller = process_state.current().controller(required=False)
    if controller is None:
        return {}
    raw = rayground.get(controller.get_status.remote(), timeout=30)
    return {name: app["route_prefix"] for name, app in raw["applications"].items()}


class ServeLive(LiveView):
    kind = "serve"
    events = ("actor",)

    def build(self) -> w.Widget:
        self.html = w.HTML()
        return self.box(self.html)

    def start(self) -> LiveView:
        super().start()
        threading.Thread(target=self._tick, name="rayground-serve-view", daemon=True).start()
        return self

    def _tick(self) -> None:
        # Requests per second change without actor events: wake the view once a second.
        while not self._stopped.wait(REFRESH_S):
            self._wake.set()

    def snapshot(self) -> ServeSnapshot:
        return snapshot(self.backend.name)

    def render(self, data: ServeSnapshot) -> None:
        if not data.running:
            self.html.value = "<b>Serve</b>: not running (<code>serve.run(app)</code> starts it)"
            return
        color = {"HEALTHY": "#3aa35c", "RUNNING": "#3aa35c", "UNHEALTHY": "#d9463e"}
        color.update({"DEPLOY_FAILED": "#d9463e", "UPDATING": "#f2b134", "DEPLOYING": "#f2b134"})

        def cell(value: Any) -> str:
            return "–" if value is None else html.escape(str(value))

        body = "".join(
            "<tr>"
            f"<td>{html.escape(r.app)}</td><td>{cell(r.route)}</td>"
            f'<td style="color:{color.get(r.app_status, "#666")}">{r.app_status}</td>'
            f"<td>{html.escape(r.name)}</td>"
            f'<td style="color:{color.get(r.status, "#666")}">{r.status}</td>'
            f"<td>{html.escape(', '.join(f'{k} {v}' for k, v in sorted(r.replicas.items())))}</td>"
            f"<td>{cell(None if r.requests_per_s is None else f'{r.requests_per_s:.1f}')}</td>"
            f"<td>{cell(r.ongoing)}</td><td>{cell(r.queued)}</td></tr>"
            for r in data.rows
        )
        self.html.value = (
            f"<b>Serve</b>: {len(data.apps)} application(s)<table><tr><th>app</th>"
            "<th>route</th><th>status</th><th>deployment</th><th>status</th><th>replicas</th>"
            f"<th>req/s</th><th>ongoing</th><th>queued</th></tr>{body}</table>"
        )

    def text_of(self, data: ServeSnapshot) -> str:
        return data.text()
