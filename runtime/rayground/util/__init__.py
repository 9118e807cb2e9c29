"""Utilities with Ray's names: `rayground.util.state` is the state API; `ActorPool` spreads work
over a set of actors; `inspect_serializability` finds what cannot be sent to a worker.

Imported explicitly, as in Ray: `rayground.util.multiprocessing` (Pool), `rayground.util.joblib`
(`register_ray`, needs joblib) and `rayground.util.dask` (`ray_dask_get`, needs Dask)."""

from . import state
from .actor_pool import ActorPool
from .check_serialize import inspect_serializability
from .helpers import as_completed, list_named_actors, map_unordered
from .placement_group import (
    get_current_placement_group,
    get_placement_group,
    placement_group,
    placement_group_table,
    remove_placement_group,
)


def get_node_ip_address() -> str:
    """The IP address of the node this process runs on (as `ray.util.get_node_ip_address`)."""
    from .._core import context

    client = context.current_client(required=False)
    if client is None:
        return "127.0.0.1"
    return str(client.session.get("node_ip") or "127.0.0.1")


__all__ = [
    "ActorPool",
    "as_completed",
    "get_current_placement_group",
    "get_node_ip_address",
    "get_placement_group",
    "inspect_serializability",
    "list_named_actors",
    "map_unordered",
    "placement_group",
    "placement_group_table",
    "remove_placement_group",
    "state",
]
