"""Placement groups: bundles of resources reserved together, and the tasks and actors run in them.

A state machine the head feeds (events in, decisions out), with no sockets, workers or objects:

    create(group)        a new group: PENDING until every bundle fits at once
    schedule(nodes)      -> [Reservation]: groups whose bundles all fit now, and where
    node_lost(node_id)   its bundles are gone: those groups go back to RESCHEDULING
    remove(group_id)     -> the Release to undo (if it was placed); the group is REMOVED

Reservations are all or nothing, as in Ray: a group's bundles are planned against a copy of the
nodes' free resources, and applied only when every one of them found room. A placed bundle
becomes resources of its own on its node, named as Ray names them, so the ordinary scheduler
(task_table.py, actor_manager.py) places work in bundles with no special case:

    {"CPU": 2} in bundle 0 of group g  ->  node gets CPU_group_0_g: 2, CPU_group_g: 2,
                                           bundle_group_0_g: 1000, bundle_group_g: 1000
    a task with bundle index 0         ->  asks {CPU_group_0_g: 1, bundle_group_0_g: 0.001}
    a task with any bundle (-1)        ->  asks {CPU_group_g: 1, bundle_group_g: 0.001}

`ray.available_resources()` shows these names too, as Ray's does.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from .resources import format_request

STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")
# Every bundle gets this much of the `bundle_group_*` resources, and every task in a group asks
# for _BUNDLE_SHARE of it: a task that asks for no CPU still lands inside its bundle (Ray's values).
BUNDLE_UNITS = 1000.0
BUNDLE_SHARE = 0.001
_EPS = 1e-9
# Where STRICT_SPREAD tries every assignment, it gives up past this many (a cluster of a few
# nodes never gets near it; the greedy pass has already found most answers).
_SEARCH_LIMIT = 2_000
# Removed groups kept for placement_group_table() and the state API (the oldest go first).
REMOVED_KEPT = 1000


def check_bundles(bundles: Any, strategy: Any) -> list[dict[str, float]]:
    """The bundles as plain dicts, or ValueError saying what is wrong (Ray's checks, Ray's type)."""
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Invalid placement group strategy {strategy!r}. Supported strategies are: "
            f"{', '.join(STRATEGIES)}."
        )
    if not isinstance(bundles, list | tuple) or not bundles:
        raise ValueError(
            "The placement group `bundles` argument cannot contain an empty list: pass a list "
            "of resource dicts, e.g. [{'CPU': 1}, {'CPU': 1}]."
        )
    out = []
    for i, bundle in enumerate(bundles):
        if not isinstance(bundle, dict) or not bundle:
            raise ValueError(
                f"Bundles cannot be an empty dictionary or resources with only 0 values. "
                f"Bundle {i} is {bundle!r}; give each bundle at least one resource > 0."
            )
        clean: dict[str, float] = {}
        for key, value in bundle.items():
            if not isinstance(key, str) or not isinstance(value, int | float) or value < 0:
                raise ValueError(
                    f"Bundle {i} has {key!r}: {value!r}; resource amounts must be numbers >= 0."
                )
            if value:
                clean[key] = float(value)
        if not clean:
            raise ValueError(
                f"Bundles cannot be an empty dictionary or resources with only 0 values. "
                f"Bundle {i} is {bundle!r}; give each bundle at least one resource > 0."
            )
        out.append(clean)
    return out


def bundle_resources(group_id: str, index: int, bundle: dict[str, float]) -> dict[str, float]:
    """The resources one placed bundle adds to its node (its own and the group's wildcard)."""
    out: dict[str, float] = {}
    for key, value in {**bundle, "bundle": BUNDLE_UNITS}.items():
        out[f"{key}_group_{index}_{group_id}"] = value
        out[f"{key}_group_{group_id}"] = value
    return out


def task_request(group_id: str, index: int, request: dict[str, float]) -> dict[str, float]:
    """What a task or actor asking for `request` asks for inside bundle `index` (-1: any)."""
    tag = f"_group_{index}_{group_id}" if index >= 0 else f"_group_{group_id}"
    out = {f"{key}{tag}": value for key, value in request.items() if value}
    out[f"bundle{tag}"] = BUNDLE_SHARE
    return out


@dataclass
class Group:
    id: str
    bundles: list[dict[str, float]]
    strategy: str
    name: str = ""
    namespace: str | None = None
    lifetime: str | None = None
    job_id: str | None = None
    state: str = "PENDING"  # PENDING -> CREATED -> (RESCHEDULING -> CREATED) -> REMOVED
    nodes: list[str | None] = field(default_factory=list)  # node id per bundle, once placed
    why: str = ""  # why it is still pending (shown by placement_group_table and status)
    times: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.nodes:
            self.nodes = [None] * len(self.bundles)
        self.times.setdefault("PENDING", time.time())

    def row(self) -> dict[str, Any]:
        """The group as placement_group_table() shows it (Ray's keys)."""
        return {
            "placement_group_id": self.id,
            "name": self.name,
            "bundles": {i: dict(b) for i, b in enumerate(self.bundles)},
            "bundles_to_node_id": {i: n for i, n in enumerate(self.nodes) if n is not None},
            "strategy": self.strategy,
            "state": self.state,
            "stats": {"scheduling_state": "FINISHED" if self.state == "CREATED" else self.why},
            "lifetime": self.lifetime or "non_detached",
            "namespace": self.namespace,
            "job_id": self.job_id,
        }

    def state_row(self) -> dict[str, Any]:
        """The group as ray.util.state.list_placement_groups() shows it (Ray's fields)."""
        return {
            "placement_group_id": self.id,
            "name": self.name,
            "creator_job_id": self.job_id,
            "state": self.state,
            "strategy": self.strategy,
            "is_detached": self.lifetime == "detached",
            "bundles": [
                {"bundle_id": i, "node_id": n, "unit_resources": dict(b)}
                for i, (b, n) in enumerate(zip(self.bundles, self.nodes, strict=True))
            ],
            "stats": {"scheduling_state": "FINISHED" if self.state == "CREATED" else self.why},
        }


@dataclass(frozen=True)
class Reservation:
    """Bundles of `group` to reserve now: (bundle index, node id) for each."""

    group: Group
    placed: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Release:
    """Reserved bundles of a removed group to give back: (bundle index, node id) for each."""

    group: Group
    placed: tuple[tuple[int, str], ...]


class PlacementGroups:
    """Every group the head knows, in creation order; pending ones are tried in that order."""

    def __init__(self) -> None:
        self.groups: dict[str, Group] = {}

    def create(self, group: Group) -> None:
        if group.name:
            clash = self.named(group.name, group.namespace)
            if clash is not None:
                raise ValueError(
                    f"A placement group named {group.name!r} already exists in namespace "
                    f"{group.namespace!r}; pick another name or remove it first."
                )
        self.groups[group.id] = group

    def removed(self, group_id: str) -> bool:
        group = self.groups.get(group_id)
        return group is not None and group.state == "REMOVED"

    def named(self, name: str, namespace: str | None) -> Group | None:
        for group in self.groups.values():
            if group.name == name and group.namespace == namespace and group.state != "REMOVED":
                return group
        return None

    def waiting(self) -> bool:
        return any(g.state in ("PENDING", "RESCHEDULING") for g in self.groups.values())

    def schedule(
        self, available: dict[str, dict[str, float]], total: dict[str, dict[str, float]]
    ) -> list[Reservation]:
        """Reserve what fits now. `available`/`total`: per alive node (head first), its free and
        total resources; `available` is updated for what is reserved."""
        out = []
        for group in self.groups.values():
            if group.state not in ("PENDING", "RESCHEDULING"):
                continue
            todo = [i for i, n in enumerate(group.nodes) if n is None]
            fixed = [n for n in group.nodes if n is not None]
            plan = plan_bundles([group.bundles[i] for i in todo], group.strategy, available, fixed)
            if isinstance(plan, str):
                group.why = _why_pending(group, todo, total, plan)
                continue
            placed = tuple(zip(todo, plan, strict=True))
            for index, node_id in placed:
                group.nodes[index] = node_id
                _take(available[node_id], group.bundles[index])
            group.state = "CREATED"
            group.why = ""
            group.times["CREATED"] = time.time()
            out.append(Reservation(group, placed))
        return out

    def remove(self, group_id: str) -> Release | None:
        group = self.groups.get(group_id)
        if group is None or group.state == "REMOVED":
            return None
        placed = tuple((i, n) for i, n in enumerate(group.nodes) if n is not None)
        group.state = "REMOVED"
        group.times["REMOVED"] = time.time()
        group.nodes = [None] * len(group.bundles)
        removed = [g.id for g in self.groups.values() if g.state == "REMOVED"]
        for old_id in removed[: max(0, len(removed) - REMOVED_KEPT)]:
            del self.groups[old_id]
        return Release(group, placed) if placed else None

    def node_lost(self, node_id: str) -> list[Group]:
        """Groups that had a bundle on the dead node: those bundles are placed again."""
        hit = []
        for group in self.groups.values():
            if group.state == "CREATED" and node_id in group.nodes:
                group.nodes = [None if n == node_id else n for n in group.nodes]
                group.state = "RESCHEDULING"
                hit.append(group)
        return hit

    def of_job(self, job_id: str) -> list[Group]:
        """The job's groups that end with it (not detached ones)."""
        return [
            g
            for g in self.groups.values()
            if g.job_id == job_id and g.lifetime != "detached" and g.state != "REMOVED"
        ]


def plan_bundles(
    bundles: list[dict[str, float]],
    strategy: str,
    available: dict[str, dict[str, float]],
    fixed: list[str] | None = None,
) -> list[str] | str:
    """A node id for each bundle so that all fit at once, or why not ("busy" / "infeasible" is
    decided by the caller). `fixed`: nodes already holding other bundles of the same group (a
    group placed again after a node died keeps its living bundles where they are)."""
    fixed = fixed or []
    free = {n: dict(r) for n, r in available.items()}
    if strategy == "STRICT_PACK":
        nodes = [fixed[0]] if fixed else list(free)
        need = _sum(bundles)
        for node in nodes:
            if node in free and _fits(free[node], need):
                return [node] * len(bundles)
        return "no node has room for all the bundles together (STRICT_PACK)"
    if strategy == "STRICT_SPREAD":
        return _strict_spread(bundles, free, set(fixed))
    used: dict[str, int] = {n: fixed.count(n) for n in free}
    out = []
    for bundle in bundles:
        fitting = [n for n in free if _fits(free[n], bundle)]
        if not fitting:
            return f"no node has room for bundle {format_request(bundle)} ({strategy})"
        if strategy == "PACK":  # onto the node already holding most of the group
            node = max(fitting, key=lambda n: used[n])
        else:  # SPREAD: onto the node holding fewest, best effort
            node = min(fitting, key=lambda n: used[n])
        used[node] += 1
        _take(free[node], bundle)
        out.append(node)
    return out


def _strict_spread(
    bundles: list[dict[str, float]], free: dict[str, dict[str, float]], taken: set[str]
) -> list[str] | str:
    nodes = [n for n in free if n not in taken]
    if len(nodes) < len(bundles):
        return (
            f"STRICT_SPREAD needs {len(bundles) + len(taken)} nodes, one per bundle; the "
            f"cluster has {len(free)} alive"
        )
    # Largest bundles first, each on a distinct node; a small search covers what greedy misses.
    order = sorted(range(len(bundles)), key=lambda i: -sum(bundles[i].values()))
    for perm in itertools.islice(itertools.permutations(nodes, len(bundles)), _SEARCH_LIMIT):
        if all(_fits(free[perm[k]], bundles[i]) for k, i in enumerate(order)):
            out = [""] * len(bundles)
            for k, i in enumerate(order):
                out[i] = perm[k]
            return out
    return "no set of distinct nodes has room for every bundle (STRICT_SPREAD)"


def _why_pending(
    group: Group, todo: list[int], total: dict[str, dict[str, float]], plan_error: str
) -> str:
    """Infeasible (no node could ever hold it) or waiting for resources to free up."""
    if not total:
        return "no alive node"
    everything = {n: dict(r) for n, r in total.items()}
    fixed = [n for n in group.nodes if n is not None]
    if isinstance(
        plan_bundles([group.bundles[i] for i in todo], group.strategy, everything, fixed), str
    ):
        asked = {k for b in group.bundles for k in b}
        cluster = {k: v for k, v in _sum(list(total.values())).items() if k in asked}
        return (
            f"INFEASIBLE: {plan_error}, even with nothing else running (cluster total "
            f"{format_request(cluster)}); it stays pending until nodes with those resources join"
        )
    return f"WAITING_FOR_RESOURCES: {plan_error} now; it is placed when resources free up"


def _sum(dicts: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0.0) + v
    return out


def _fits(free: dict[str, float], need: dict[str, float]) -> bool:
    return all(free.get(k, 0.0) + _EPS >= v for k, v in need.items() if v > 0)


def _take(free: dict[str, float], need: dict[str, float]) -> None:
    for k, v in need.items():
        free[k] = free.get(k, 0.0) - v
