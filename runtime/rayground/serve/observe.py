"""What the live views read about Serve beyond `serve.status()`: per deployment, its requests
per second and each replica's running and queued requests (from the controller, which asks the
replicas). A rayground extra: Ray Serve shows these on its dashboard instead."""

from __future__ import annotations

from typing import Any

import rayground

from . import process_state


def deployment_load() -> dict[str, dict[str, Any]]:
    """{"app#deployment": {"app", "deployment", "status", "target", "requests_per_s",
    "replicas": [{"replica_id", "state", "pid", "ongoing", "queued"}]}}; empty without Serve."""
    if not rayground.is_initialized():
        return {}
    controller = process_state.current().controller(required=False)
    if controller is None:
        return {}
    try:
        return rayground.get(controller.get_details.remote(), timeout=30)
    except rayground.exceptions.RayActorError:
        return {}  # Serve was shut down meanwhile
