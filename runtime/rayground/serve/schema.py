"""What `serve.status()` returns, with Ray Serve's names: a ServeStatus of applications, each
with its deployments and their replicas' states. Named as Ray's `ray.serve.schema`, which is
what Serve code imports; not the wire protocol's schema (`_core/schema.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "ApplicationStatus",
    "ApplicationStatusOverview",
    "DeploymentStatus",
    "DeploymentStatusOverview",
    "ProxyStatus",
    "ServeStatus",
]


class _Status(str, Enum):
    """A status that prints as its value, as Ray Serve's do (`str(status) == "RUNNING"`)."""

    def __str__(self) -> str:
        return self.value


class ApplicationStatus(_Status):
    NOT_STARTED = "NOT_STARTED"
    DEPLOYING = "DEPLOYING"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    RUNNING = "RUNNING"
    UNHEALTHY = "UNHEALTHY"
    DELETING = "DELETING"


class DeploymentStatus(_Status):
    UPDATING = "UPDATING"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    UPSCALING = "UPSCALING"
    DOWNSCALING = "DOWNSCALING"
    DELETING = "DELETING"


class ProxyStatus(_Status):
    STARTING = "STARTING"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"


@dataclass
class DeploymentStatusOverview:
    status: DeploymentStatus
    replica_states: dict[str, int] = field(default_factory=dict)
    message: str = ""


@dataclass
class ApplicationStatusOverview:
    status: ApplicationStatus
    message: str = ""
    last_deployed_time_s: float = 0.0
    deployments: dict[str, DeploymentStatusOverview] = field(default_factory=dict)


@dataclass
class ServeStatus:
    proxies: dict[str, ProxyStatus] = field(default_factory=dict)
    applications: dict[str, ApplicationStatusOverview] = field(default_factory=dict)
    target_capacity: float | None = None


def status_from_controller(raw: dict[str, Any], node_id: str) -> ServeStatus:
    apps = {}
    for name, app in raw["applications"].items():
        deployments = {
            dep: DeploymentStatusOverview(
                DeploymentStatus(d["status"]), dict(d["replica_states"]), d["message"]
            )
            for dep, d in app["deployments"].items()
        }
        apps[name] = ApplicationStatusOverview(
            ApplicationStatus(app["status"]), app["message"], app["deployed_at"], deployments
        )
    proxies = {node_id: ProxyStatus(raw["proxy"])} if raw.get("proxy") else {}
    return ServeStatus(proxies=proxies, applications=apps)
