"""Placement groups, with Ray's names: reserve bundles of resources together, then run tasks and
actors in them (`PlacementGroupSchedulingStrategy`, in `rayground.util.scheduling_strategies`).

    pg = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
    ray.get(pg.ready())                      # placed: every bundle reserved, all or nothing
    f.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 0)).remote()
    remove_placement_group(pg)               # its actors die, its resources come back

The head places the bundles (rayground/_core/placement.py); this module is the client side.
"""

from __future__ import annotations

import warnings
from typing import Any

from .._core import api, context, ids
from .._core.placement import STRATEGIES, check_bundles


class PlacementGroupID(ids.BaseID):
    __slots__ = ()
    _hex_already = True


class PlacementGroup:
    """A handle to a placement group (pickles into tasks and actors, as Ray's does)."""

    def __init__(self, id: PlacementGroupID, bundle_cache: list[dict[str, float]] | None = None):
        self.id = id
        self.bundle_cache = bundle_cache

    @staticmethod
    def empty() -> PlacementGroup:
        return PlacementGroup(PlacementGroupID("0" * 36))

    def is_empty(self) -> bool:
        return self.id.hex() == "0" * 36

    @property
    def bundle_specs(self) -> list[dict[str, float]]:
        """The bundles, as given (Ray's property name)."""
        self._fill_bundle_cache()
        return [dict(b) for b in self.bundle_cache or []]

    @property
    def bundle_count(self) -> int:
        self._fill_bundle_cache()
        return len(self.bundle_cache or [])

    def _fill_bundle_cache(self) -> None:
        if self.bundle_cache is None:
            row = _request("pg_table", {"id": self.id.hex()})
            self.bundle_cache = [row["bundles"][i] for i in sorted(row["bundles"])]

    def ready(self) -> Any:
        """An ObjectRef that resolves to this group once every bundle is reserved (use it with
        get or wait). As in Ray it is a zero-CPU task run inside the group."""
        from ..remote_function import RemoteFunction
        from .scheduling_strategies import PlacementGroupSchedulingStrategy

        global _ready_check
        if _ready_check is None:
            _ready_check = RemoteFunction(_bundle_reservation_check, {"num_cpus": 0})
        self._fill_bundle_cache()
        return _ready_check.options(
            scheduling_strategy=PlacementGroupSchedulingStrategy(self),
            name="bundle_reservation_check_func",
            max_retries=0,
        ).remote(self)

    def wait(self, timeout_seconds: float | int = 30) -> bool:
        """True once the group is placed; False if `timeout_seconds` pass first."""
        if not isinstance(timeout_seconds, int | float) or timeout_seconds < 0:
            raise ValueError(f"timeout_seconds must be a number >= 0, got {timeout_seconds!r}")
        from .._core.api import wait

        ready, _ = wait([self.ready()], timeout=float(timeout_seconds))
        return bool(ready)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementGroup) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"PlacementGroup(id={self.id.hex()}, bundles={self.bundle_cache})"

    def __reduce__(self) -> tuple:
        return (PlacementGroup, (self.id, self.bundle_cache))


_ready_check: Any = None


def _bundle_reservation_check(placement_group: PlacementGroup) -> PlacementGroup:
    return placement_group


def placement_group(
    bundles: list[dict[str, float]],
    strategy: str = "PACK",
    name: str = "",
    lifetime: str | None = None,
    _soft_target_node_id: str | None = None,
    bundle_label_selector: list[dict[str, str]] | None = None,
) -> PlacementGroup:
    """Reserve `bundles` (resource dicts) with `strategy`: PACK (as few nodes as possible),
    SPREAD (as many as possible), STRICT_PACK (one node) or STRICT_SPREAD (one node each).
    Returns at once; the group is placed when every bundle fits (`pg.ready()`, `pg.wait()`)."""
    clean = check_bundles(bundles, strategy)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r}")
    if lifetime not in (None, "detached"):
        raise ValueError(
            "Placement group `lifetime` argument must be either `None` or 'detached'. "
            f"Got {lifetime!r}."
        )
    if bundle_label_selector:
        raise ValueError(
            "bundle_label_selector is not supported by rayground (nodes have no labels yet); "
            "run on the Ray backend to use it."
        )
    client = api.connected_client()
    group_id = ids.random_hex(18)
    task_ctx = context.task_context()
    _request(
        "pg_create",
        {
            "id": group_id,
            "bundles": clean,
            "strategy": strategy,
            "name": name,
            "namespace": api.current_namespace(client),
            "lifetime": lifetime,
            "job_id": task_ctx.get("job_id") or client.session.get("job_id"),
        },
    )
    return PlacementGroup(PlacementGroupID(group_id), clean)


def remove_placement_group(placement_group: PlacementGroup) -> None:
    """Give the group's resources back; its actors are killed and its tasks fail, as in Ray."""
    if not isinstance(placement_group, PlacementGroup):
        raise TypeError(f"remove_placement_group() takes a PlacementGroup, got {placement_group!r}")
    _request("pg_remove", {"id": placement_group.id.hex()})


def get_placement_group(placement_group_name: str) -> PlacementGroup:
    """The live group named so (in this job's namespace); ValueError if there is none."""
    if not isinstance(placement_group_name, str) or not placement_group_name:
        raise ValueError(
            f"get_placement_group() needs the group's name, got {placement_group_name!r}"
        )
    client = api.connected_client()
    row = _request(
        "pg_table", {"name": placement_group_name, "namespace": api.current_namespace(client)}
    )
    bundles = [row["bundles"][i] for i in sorted(row["bundles"])]
    return PlacementGroup(PlacementGroupID(row["placement_group_id"]), bundles)


def placement_group_table(placement_group: PlacementGroup | None = None) -> dict[str, Any]:
    """One group's row (Ray's keys: placement_group_id, name, bundles, bundles_to_node_id,
    strategy, state, stats), or every group's, by id."""
    if placement_group is None:
        return _request("pg_table", {})
    return _request("pg_table", {"id": placement_group.id.hex()})


def get_current_placement_group() -> PlacementGroup | None:
    """The group the calling task or actor runs in, if it was scheduled into one; None in the
    driver (as in Ray)."""
    info = context.task_context().get("placement_group")
    if not info:
        return None
    return PlacementGroup(PlacementGroupID(info["id"]), info.get("bundles"))


def check_placement_group_index(placement_group: PlacementGroup, bundle_index: int) -> None:
    if not isinstance(bundle_index, int) or isinstance(bundle_index, bool):
        raise TypeError(f"placement_group_bundle_index must be an int, got {bundle_index!r}")
    if bundle_index < -1 or bundle_index >= placement_group.bundle_count:
        raise ValueError(
            f"placement group bundle index {bundle_index} is invalid. Valid placement group "
            f"indexes: 0-{placement_group.bundle_count - 1} (or -1 for any bundle)."
        )


def _request(what: str, args: dict[str, Any]) -> Any:
    return api.connected_client().request(what, args)


def deprecated_option_warning() -> None:
    warnings.warn(
        "placement_group parameter is deprecated. Use scheduling_strategy="
        "PlacementGroupSchedulingStrategy(...) instead, see the usage at "
        "https://docs.ray.io/en/releases-2.60.0/ray-core/package-ref.html#ray-remote.",
        DeprecationWarning,
        stacklevel=4,
    )


__all__ = [
    "STRATEGIES",
    "PlacementGroup",
    "PlacementGroupID",
    "check_placement_group_index",
    "get_current_placement_group",
    "get_placement_group",
    "placement_group",
    "placement_group_table",
    "remove_placement_group",
]
