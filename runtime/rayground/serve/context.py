"""`serve.get_replica_context()`: which application, deployment and replica the calling code
runs in (set by the replica before the user's constructor runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .exceptions import RayServeException

__all__ = ["DeploymentID", "ReplicaContext", "ReplicaID", "get_replica_context"]


@dataclass(frozen=True)
class DeploymentID:
    name: str
    app_name: str


@dataclass(frozen=True)
class ReplicaID:
    unique_id: str
    deployment_id: DeploymentID

    def to_full_id_str(self) -> str:
        return f"{self.deployment_id.app_name}#{self.deployment_id.name}#{self.unique_id}"


@dataclass
class ReplicaContext:
    replica_id: ReplicaID
    servable_object: Any
    rank: int = 0
    world_size: int = 1

    @property
    def app_name(self) -> str:
        return self.replica_id.deployment_id.app_name

    @property
    def deployment(self) -> str:
        return self.replica_id.deployment_id.name

    @property
    def replica_tag(self) -> str:
        return self.replica_id.unique_id


class _Current:
    """The replica context of this process (one replica per actor process)."""

    context: ReplicaContext | None = None


def set_replica_context(context: ReplicaContext | None) -> None:
    _Current.context = context


def get_replica_context() -> ReplicaContext:
    """The context of the replica running this code; raises outside a deployment."""
    if _Current.context is None:
        raise RayServeException(
            "`serve.get_replica_context()` may only be called from within a Ray Serve deployment."
        )
    return _Current.context
