"""Status hook: Serve's applications, deployments and replicas (with health and load) on the
cluster's library status board (`rayground.util.library_status`), so the lab panel and
`%ray_status` show them. The controller publishes when they change (checked every
PUBLISH_EVERY_S); `serve.shutdown()` takes the entry off the board.

Entry (key "serve"): "title", "state" ("RUNNING"), "proxy", "http" ({"host", "port"} or None),
"applications": [{"name", "status", "route", "message", "deployments": [{"name", "status",
"message", "target", "replicas" ({state: n}), "unhealthy", "requests_per_s", "ongoing",
"queued"}]}]."""

from __future__ import annotations

from typing import Any

from rayground.util.library_status import Publisher

KEY = "serve"
PUBLISH_EVERY_S = 1.0
_publisher = Publisher("serve")


def entry(status: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    """From the controller's `get_status()` and `get_details()` replies."""
    apps = []
    for app_name, app in status["applications"].items():
        deployments = []
        for dep_name, dep in app["deployments"].items():
            load = details.get(f"{app_name}#{dep_name}") or {}
            replicas = load.get("replicas") or []
            deployments.append(
                {
                    "name": dep_name,
                    "status": dep["status"],
                    "message": dep.get("message") or "",
                    "target": dep.get("target_replicas"),
                    "replicas": dict(dep["replica_states"]),
                    "requests_per_s": load.get("requests_per_s", 0.0),
                    "ongoing": sum(r.get("ongoing", 0) for r in replicas),
                    "queued": sum(r.get("queued", 0) for r in replicas),
                }
            )
        apps.append(
            {
                "name": app_name,
                "status": app["status"],
                "route": app.get("route_prefix"),
                "message": app.get("message") or "",
                "deployments": deployments,
            }
        )
    return {
        "title": "Serve",
        "state": "RUNNING",
        "proxy": status.get("proxy"),
        "http": status.get("http"),
        "applications": apps,
    }


def publish(value: dict[str, Any]) -> None:
    _publisher.publish(KEY, value, final=True)


def drop() -> None:
    _publisher.drop(KEY)
