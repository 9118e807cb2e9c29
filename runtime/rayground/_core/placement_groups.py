"""The head's side of placement groups: feeds placement.py and applies what it decides.

placement.py decides (which bundles go where, what is pending and why); this module turns its
decisions into node resources (a placed bundle's `*_group_*` resources, see placement.py), and
ends the work in a removed group as Ray does: its actors die, its tasks that have not finished
fail with TaskPlacementGroupRemoved.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import exceptions
from .placement import Group, PlacementGroups, Release, Reservation, bundle_resources

if TYPE_CHECKING:
    from .head import Head, Peer
    from .resources import NodeResources

_EPS = 1e-9
# While a group waits, the head tries it again at most this often (every loop turn would cost the
# task hot path a plan per turn for a group that may wait for a node that never comes).
_RETRY_S = 0.02


class HeadPlacement:
    def __init__(self, head: Head) -> None:
        self.head = head
        self.groups = PlacementGroups()
        self.gpu_ids: dict[tuple[str, int], list[str]] = {}  # (group, bundle) -> devices held
        self.pending = False  # any group waiting to be placed (checked every loop turn)
        self._next_try = 0.0

    # ------------------------------------------------------------ events in
    def create(self, args: dict[str, Any]) -> None:
        group = Group(
            id=args["id"],
            bundles=[{k: float(v) for k, v in b.items()} for b in args["bundles"]],
            strategy=args["strategy"],
            name=args.get("name") or "",
            namespace=args.get("namespace"),
            lifetime=args.get("lifetime"),
            job_id=args.get("job_id"),
        )
        self.groups.create(group)
        self.head.events.emit(
            "placement_group", group.id, "PENDING", {"name": group.name, "strategy": group.strategy}
        )
        self.pending = True
        self.schedule(force=True)

    def schedule(self, force: bool = False) -> None:
        """Place the pending groups that fit now (called while any is pending)."""
        now = time.monotonic()
        if not force and now < self._next_try:
            return
        self._next_try = now + _RETRY_S
        nodes = self.head.nodes.alive()
        available = {n.id: n.resources.snapshot_available() for n in nodes}
        total = {n.id: dict(n.resources.total) for n in nodes}
        for reservation in self.groups.schedule(available, total):
            self._reserve(reservation)
        self.pending = self.groups.waiting()

    def remove(self, group_id: str) -> None:
        group = self.groups.groups.get(group_id)
        if group is None:
            raise ValueError(f"Placement group {group_id} does not exist.")
        if group.state == "REMOVED":
            return  # as in Ray, removing twice is not an error
        release = self.groups.remove(group_id)
        self._end_work(group)
        if release is not None:
            self._release(release)
        self.head.events.emit("placement_group", group.id, "REMOVED", {"name": group.name})
        self.pending = self.groups.waiting()

    def node_lost(self, node_id: str) -> None:
        for group in self.groups.node_lost(node_id):
            for index, _ in enumerate(group.bundles):
                self.gpu_ids.pop((group.id, index), None)
            self.head.events.emit("placement_group", group.id, "RESCHEDULING", None)
        self.pending = self.groups.waiting()

    def job_ended(self, job_id: str) -> None:
        for group in self.groups.of_job(job_id):
            self.remove(group.id)

    # ------------------------------------------------------------ decisions out
    def _reserve(self, reservation: Reservation) -> None:
        group = reservation.group
        for index, node_id in reservation.placed:
            node = self.head.nodes.by_id[node_id]
            gpu_ids = node.resources.acquire(group.bundles[index])
            self.gpu_ids[(group.id, index)] = gpu_ids
            node.resources.add_bundle_gpus(
                group.id, index, gpu_ids, group.bundles[index].get("GPU", 0.0)
            )
            _add(node.resources, bundle_resources(group.id, index, group.bundles[index]))
        self.head.events.emit("placement_group", group.id, "CREATED", {"nodes": list(group.nodes)})

    def _release(self, release: Release) -> None:
        group = release.group
        for index, node_id in release.placed:
            node = self.head.nodes.by_id.get(node_id)
            gpu_ids = self.gpu_ids.pop((group.id, index), [])
            if node is None or node.state != "ALIVE":
                continue
            node.resources.remove_bundle_gpus(group.id, index)
            _subtract(node.resources, bundle_resources(group.id, index, group.bundles[index]))
            node.resources.release(group.bundles[index], gpu_ids)

    def _end_work(self, group: Group) -> None:
        """Ray's behaviour on removal: the group's actors die (ActorDiedError for their calls),
        its tasks that have not finished fail with TaskPlacementGroupRemoved."""
        head = self.head
        cause = (
            f"The placement group {group.id} this actor was scheduled into was removed "
            "(remove_placement_group)."
        )
        for actor in list(head.actors.actors.values()):
            info = actor.spec.get("placement_group")
            if info and info.get("id") == group.id and actor.state != "DEAD":
                head.actors.end_for_placement_group(actor, cause)
        for task in list(head.tasks.tasks.values()):
            info = task.spec.get("placement_group")
            if not info or info.get("id") != group.id or task.actor_id is not None:
                continue
            if task.state in ("FINISHED", "FAILED"):
                continue
            worker = task.worker if task.state == "RUNNING" else None
            task.cancelled = True
            head.tasks._fail(task, exceptions.TaskPlacementGroupRemoved())
            if worker is not None and worker.task is task:
                worker.node.pool.kill(worker)

    # ------------------------------------------------------------ queries
    def table(self, peer: Peer, args: dict[str, Any]) -> dict[str, Any]:
        groups = self.groups
        if args.get("id"):
            group = groups.groups.get(args["id"])
            if group is None:
                raise ValueError(f"Placement group {args['id']} does not exist.")
            return group.row()
        if args.get("name"):
            found = groups.named(args["name"], args.get("namespace"))
            if found is None:
                raise ValueError(f"Failed to look up placement group with name: {args['name']}")
            return found.row()
        return {g.id: g.row() for g in groups.groups.values()}


def _add(resources: NodeResources, extra: dict[str, float]) -> None:
    for key, value in extra.items():
        resources.total[key] = resources.total.get(key, 0.0) + value
        resources.available[key] = resources.available.get(key, 0.0) + value


def _subtract(resources: NodeResources, extra: dict[str, float]) -> None:
    for key, value in extra.items():
        left = resources.total.get(key, 0.0) - value
        if left <= _EPS:
            resources.total.pop(key, None)
            resources.available.pop(key, None)
        else:
            resources.total[key] = left
            resources.available[key] = resources.available.get(key, 0.0) - value
