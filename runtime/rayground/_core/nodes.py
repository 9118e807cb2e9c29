"""The nodes of a cluster as the head sees them, and where a piece of work should run.

    head node:   the head's own machine; its workers are forked by the head (worker_pool.py)
    other nodes: a `rayground start --address` process each (node.py), connected to the head
                 over TCP; the head asks it to fork workers (SPAWN) and to kill them (KILL), and
                 it reports their exits (WORKER_EXIT)

Every node has its own resources, its own worker pool and its own shared-memory directory. The
head schedules for all of them in one place (like Ray's GCS when every raylet forwards to it):
with a few nodes on a LAN, one scheduler is simpler than Ray's two-level one and fast enough.
A node whose connection ends is dead: its workers are gone, their tasks are retried elsewhere.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from .resources import NodeResources

_EPS = 1e-9


# Ray's NodeDeathInfo.Reason codes (ray.core.generated.common_pb2), which ray.nodes() reports in
# "DeathReason": a node that left on purpose (stopped, SIGTERM) or one whose process was lost.
DEATH_UNSPECIFIED = 0
DEATH_EXPECTED_TERMINATION = 1
DEATH_UNEXPECTED_TERMINATION = 2


class Node:
    __slots__ = (
        "death_message",
        "death_reason",
        "id",
        "ip",
        "is_head",
        "machine",
        "object_server",
        "peer",
        "pool",
        "resources",
        "shm_dir",
        "started",
        "state",
    )

    def __init__(
        self,
        node_id: str,
        ip: str,
        resources: NodeResources,
        pool: Any,
        shm_dir: str,
        object_server: str | None,
        peer: Any = None,
        is_head: bool = False,
    ) -> None:
        self.id = node_id
        self.ip = ip
        self.resources = resources
        self.pool = pool
        self.shm_dir = shm_dir
        self.object_server = object_server  # tcp://host:port serving this node's objects
        self.peer = peer  # the node process's connection; None for the head node
        self.is_head = is_head
        self.machine = ""  # ids.machine_id() of the node: drivers there use its store
        self.state = "ALIVE"
        self.started = time.time()
        # Why it died, as Ray's NodeDeathInfo: a reason code (DEATH_*) and a message.
        self.death_reason = DEATH_UNSPECIFIED
        self.death_message = ""


class Nodes:
    """The alive and dead nodes; sums and placement over the alive ones."""

    def __init__(self, head_node: Node) -> None:
        self.head_node = head_node
        self.by_id: dict[str, Node] = {head_node.id: head_node}
        self._alive = [head_node]  # kept current: placement reads it for every task

    def add(self, node: Node) -> None:
        self.by_id[node.id] = node
        self._alive = [n for n in self.by_id.values() if n.state == "ALIVE"]

    def mark_dead(self, node: Node, reason: int = 0, message: str = "") -> None:
        node.state = "DEAD"
        node.death_reason = reason
        node.death_message = message
        self._alive = [n for n in self.by_id.values() if n.state == "ALIVE"]

    def alive(self) -> list[Node]:
        return self._alive

    def workers(self) -> Iterator[Any]:
        for node in self.by_id.values():
            yield from node.pool.workers.values()

    def worker(self, worker_id: str) -> Any:
        for node in self.by_id.values():
            worker = node.pool.workers.get(worker_id)
            if worker is not None:
                return worker
        return None

    @property
    def total(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for node in self.alive():
            for key, value in node.resources.total.items():
                out[key] = out.get(key, 0.0) + value
        return out

    def snapshot_available(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for node in self.alive():
            for key, value in node.resources.snapshot_available().items():
                out[key] = out.get(key, 0.0) + value
        return out

    def feasible(self, req: dict[str, float]) -> bool:
        if len(self._alive) == 1:
            return self._alive[0].resources.feasible(req)
        return any(n.resources.feasible(req) for n in self._alive)

    def missing_for(self, req: dict[str, float]) -> dict[str, float]:
        """What the largest node lacks for `req` (a request never spans nodes)."""
        best: dict[str, float] | None = None
        for node in self.alive():
            missing = node.resources.missing_for(req)
            if best is None or len(missing) < len(best):
                best = missing
        return best if best is not None else dict(req)

    def on_machine(self, machine: str) -> Node | None:
        """The alive node on that machine (the head's first), if any."""
        for node in self._alive:
            if node.machine == machine:
                return node
        return None

    def fitting(self, req: dict[str, float], prefer: Node | None = None) -> list[Node]:
        """Alive nodes where `req` fits now: `prefer` first (locality), then nodes with an idle
        worker (no start-up wait), then the head node, then the others."""
        if len(self._alive) == 1:
            only = self._alive[0]
            return [only] if only.resources.fits(req) else []
        nodes = [n for n in self._alive if n.resources.fits(req)]
        if len(nodes) > 1:
            nodes.sort(key=lambda n: (n is not prefer, not n.pool.idle, not n.is_head, n.started))
        return nodes

    def by_strategy(self, fitting: list[Node], spec: dict[str, Any]) -> list[Node]:
        """`fitting` narrowed or reordered by the spec's scheduling strategy: node affinity
        (only that node; soft: that node first, else any) or SPREAD (least busy node first)."""
        affinity = spec.get("node_affinity")
        if affinity:
            node_id, soft = affinity
            there = [n for n in fitting if n.id == node_id]
            return there if there or not soft else fitting
        if spec.get("strategy") == "SPREAD" and len(fitting) > 1:
            return sorted(fitting, key=_busy)
        return fitting


def _busy(node: Node) -> int:
    return sum(1 for w in node.pool.workers.values() if w.state == "busy")
