"""rayground.serve: Ray Serve's API on rayground's actors.

    from rayground import serve

    @serve.deployment(num_replicas=2)
    class Echo:
        async def __call__(self, request):
            return await request.json()

    handle = serve.run(Echo.bind())      # HTTP on 127.0.0.1:8000, or call the handle

Built only on rayground's public API: a controller actor, replica actors and an HTTP proxy
actor (see controller.py for how they talk).
"""

from __future__ import annotations

from . import exceptions
from .api import delete, get_app_handle, get_deployment_handle, run, shutdown, start, status
from .batching import batch
from .config import AutoscalingConfig, HTTPOptions
from .context import ReplicaContext, get_replica_context
from .deployment import Application, Deployment, deployment
from .handle import DeploymentHandle, DeploymentResponse, DeploymentResponseGenerator
from .ingress import ingress

__all__ = [
    "Application",
    "AutoscalingConfig",
    "Deployment",
    "DeploymentHandle",
    "DeploymentResponse",
    "DeploymentResponseGenerator",
    "HTTPOptions",
    "ReplicaContext",
    "batch",
    "delete",
    "deployment",
    "exceptions",
    "get_app_handle",
    "get_deployment_handle",
    "get_replica_context",
    "ingress",
    "run",
    "shutdown",
    "start",
    "status",
]
