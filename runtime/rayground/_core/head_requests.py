"""Request/response queries the head answers: resources, nodes, actors by name, the state tables.

Each handler takes the head, the asking peer and an args dict, and returns plain data (it is sent
back in a REPLY envelope, so no objects of our own classes). Raising ValueError or a RayError sends
the error back to the caller, who re-raises it with the same type.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from .transport import parse_address

if TYPE_CHECKING:
    from .head import Head, Peer
    from .nodes import Node


def handle_request(head: Head, peer: Peer, what: str, args: dict[str, Any]) -> Any:
    handler = _HANDLERS.get(what)
    if handler is None:
        raise ValueError(f"the head does not know the request {what!r} (version mismatch?)")
    return handler(head, peer, args)


def _cluster_resources(head: Head, peer: Peer, args: dict) -> dict[str, float]:
    return head.nodes.total


def _available_resources(head: Head, peer: Peer, args: dict) -> dict[str, float]:
    return {k: v for k, v in head.nodes.snapshot_available().items() if v > 0}


# A port nothing listens on, as Ray reports its dashboard agent's when the dashboard is off.
NO_PORT = -1


def _port(address: str | None) -> int:
    """The TCP port of an endpoint address; NO_PORT where there is none (a Unix socket, no
    server)."""
    if not address:
        return NO_PORT
    where = parse_address(address)[1]
    return where[1] if isinstance(where, tuple) else NO_PORT


def _node_row(head: Head, node: Node) -> dict[str, Any]:
    """A row of ray.nodes(), with Ray's keys and value types (docs/ray-compatibility.md says what
    each key means here where Ray's concept has no rayground counterpart)."""
    alive = node.state == "ALIVE"
    # The node manager: the head process for the head node (its TCP port, where it has one, and
    # its Unix socket); other nodes' processes connect out to the head and listen on nothing.
    manager_port = NO_PORT
    manager_socket = ""
    if node.is_head:
        for endpoint in head.endpoints:
            if endpoint.startswith("ipc://"):
                manager_socket = str(parse_address(endpoint)[1])
            else:
                manager_port = _port(endpoint) if manager_port == NO_PORT else manager_port
    return {
        "NodeID": node.id,
        "Alive": alive,
        "NodeManagerAddress": node.ip,
        "NodeManagerHostname": os.uname().nodename if node.is_head else node.ip,
        "NodeManagerPort": manager_port,
        "ObjectManagerPort": _port(node.object_server),
        "ObjectStoreSocketName": node.shm_dir,
        "RayletSocketName": manager_socket,
        # rayground runs no metrics, dashboard or runtime-env agents: no ports.
        "MetricsExportPort": NO_PORT,
        "MetricsAgentPort": NO_PORT,
        "DashboardAgentListenPort": NO_PORT,
        "NodeName": node.ip,
        "RuntimeEnvAgentPort": NO_PORT,
        "DeathReason": node.death_reason,
        "DeathReasonMessage": node.death_message,
        "alive": alive,
        "Resources": dict(node.resources.total) if alive else {},
        "Labels": {"ray.io/node-id": node.id},
    }


def _nodes(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    return [_node_row(head, node) for node in head.nodes.by_id.values()]


def _locate(head: Head, peer: Peer, args: dict) -> list[tuple[str, str]]:
    """Object servers that hold `oid`'s bytes: [(address, name)], the original first."""
    oid = str(args["oid"])
    obj = head.objects.get(oid)
    if obj is None or obj.desc is None:
        return []
    name = os.path.basename(str(obj.desc[1]))
    out = []
    for node_id in head.objects.locations(oid):
        node = head.nodes.by_id.get(node_id)
        if node is not None and node.state == "ALIVE" and node.object_server:
            out.append((node.object_server, name))
    return out


def _create_actor(head: Head, peer: Peer, args: dict) -> dict[str, Any]:
    return head.actors.create(peer, args["spec"])  # checked against schema.REQUESTS


def _get_actor(head: Head, peer: Peer, args: dict) -> dict[str, Any]:
    actor = head.actors.lookup(args["name"], args.get("namespace"))
    return {"actor_id": actor.id, **actor.spec["meta"]}


def _actor_state(head: Head, peer: Peer, args: dict) -> dict[str, Any]:
    actor = head.actors.actors.get(args["actor_id"])
    if actor is None:
        raise ValueError(f"no actor {args['actor_id']} in this cluster")
    return {
        "state": actor.state,
        "death_cause": actor.death_cause,
        "num_restarts": actor.num_restarts,
    }


def task_row(task: Any) -> dict[str, Any]:
    worker_id, worker_pid = task.ran_on or (None, None)
    return {
        "task_id": task.id,
        "name": task.name,
        "func_or_class_name": task.name,
        "state": task.state,
        "type": _task_type(task),
        "job_id": task.job_id,
        "actor_id": task.actor_id or task.spec.get("actor_id"),
        "parent_task_id": task.parent,
        "depends_on": list(task.spec.get("deps", ())),
        "returns": list(task.returns),
        "required_resources": dict(task.resources),
        "worker_id": worker_id,
        "worker_pid": worker_pid,
        "node_id": None,
        "attempt_number": max(task.attempt - 1, 0),
        "error_message": task.error,
        "infeasible": task.infeasible,
        "events": sorted(task.times.items(), key=lambda kv: kv[1]),
        "creation_time_ms": int(min(task.times.values()) * 1000),
        "start_time_ms": int(task.times["RUNNING"] * 1000) if "RUNNING" in task.times else None,
        "end_time_ms": int(task.times.get("FINISHED", task.times.get("FAILED", 0)) * 1000) or None,
    }


def _task_type(task: Any) -> str:
    kind = task.spec.get("kind")
    if kind == "actor_create":
        return "ACTOR_CREATION_TASK"
    if task.actor_id:
        return "ACTOR_TASK"
    return "NORMAL_TASK"


def _list_tasks(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    limit = int(args.get("limit", 10_000))
    rows = []
    for task in reversed(list(head.tasks.tasks.values())):
        row = task_row(task)
        row["node_id"] = task.node.id if task.node is not None else None
        rows.append(row)
        if len(rows) >= limit:
            break
    rows.reverse()
    return rows


def _list_actors(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    rows = head.actors.snapshot()
    for row, actor in zip(rows, head.actors.actors.values(), strict=True):
        row["node_id"] = actor.node.id if actor.node is not None else None
    return rows


def _list_objects(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    rows = head.objects.snapshot()
    for row in rows:
        node = head.nodes.by_id.get(row["node_id"])
        row["ip"] = node.ip if node is not None else None
    return rows


def _list_nodes(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    rows = []
    stored: Counter = Counter()
    for obj in head.objects.objects.values():
        if obj.desc is not None and obj.desc[0] == "s":
            stored[obj.node or head.node_id] += obj.size
    for node in head.nodes.by_id.values():
        rows.append(
            {
                "node_id": node.id,
                "node_ip": node.ip,
                "is_head_node": node.is_head,
                "state": node.state,
                "node_name": node.ip,
                "resources_total": dict(node.resources.total),
                "resources_available": node.resources.snapshot_available(),
                "object_store_used": stored[node.id],
                "object_store_capacity": int(node.resources.total.get("object_store_memory", 0))
                or head.objects.capacity,
                "spilled_bytes": head.objects.spilled_bytes if node.is_head else 0,
                "num_workers": len(node.pool.workers),
                "object_server": node.object_server,
                "start_time": node.started,
            }
        )
    return rows


def _list_workers(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    return [
        {
            "worker_id": w.id,
            "pid": w.pid,
            "state": w.state,
            "blocked": w.blocked,
            "actor_id": w.actor_id,
            "task_id": w.task.id if w.task is not None else None,
            "node_id": w.node.id,
            # Lets a view name the worker behind an object's holder (holders are client ids).
            "client_id": w.peer.client_id if w.peer is not None else None,
        }
        for w in head.nodes.workers()
    ]


def _list_jobs(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in job.items() if k in ("job_id", "status", "pid", "start_time", "end_time")}
        for job in head.jobs.values()
    ]


def _summarize_tasks(head: Head, peer: Peer, args: dict) -> dict[str, Any]:
    by_name: dict[str, Counter] = {}
    types: dict[str, str] = {}
    for task in head.tasks.tasks.values():
        by_name.setdefault(task.name, Counter())[task.state] += 1
        types[task.name] = _task_type(task)
    return {
        "cluster": {
            "summary": {
                name: {"func_or_class_name": name, "type": types[name], "state_counts": dict(c)}
                for name, c in by_name.items()
            },
            "total_tasks": sum(sum(c.values()) for c in by_name.values()),
            "summary_by": "func_name",
        }
    }


def _make_room(head: Head, peer: Peer, args: dict) -> int | str:
    """Room for `bytes` more in shared memory, spilling to disk if needed; returns the bytes free.

    When memory holds only objects that cannot be spilled (arguments of queued and running
    tasks), the answer is the spill directory: the caller writes the object straight to disk
    there (as Ray's fallback allocation). Only when the disk (or RAYGROUND_SPILL_LIMIT) is full
    too does the caller get ObjectStoreFullError, saying how much it asked and how much is free.
    """
    from ..exceptions import ObjectStoreFullError

    need = int(args["bytes"])
    if head.node_of(peer) is not head.nodes.head_node:
        return 1 << 62  # only the head node's store is managed here; other nodes write freely
    objects = head.objects
    free = objects.capacity - objects.used
    if free < need:
        objects.spill_until(need - free, head.tasks.objects_in_use())
        free = objects.capacity - objects.used
    if free < need and objects.spill_room() >= need:
        os.makedirs(objects.spill_dir, mode=0o700, exist_ok=True)
        return objects.spill_dir
    if free < need:
        raise ObjectStoreFullError(
            f"Out of object store memory: {need:,} bytes ({need / 1e6:.1f} MB) were asked for, "
            f"but only {max(free, 0):,} bytes of {objects.capacity / 1e6:.1f} MB are free in "
            f"shared memory and {objects.spill_room():,} bytes are left for spilling to disk "
            f"({objects.spilled_bytes / 1e6:.1f} MB spilled already; objects in use by tasks "
            "cannot be spilled). Free references you no longer need (del ref), or start the "
            "cluster with a larger object_store_memory."
        )
    return free


def _status(head: Head, peer: Peer, args: dict) -> dict[str, Any]:
    states = Counter(t.state for t in head.tasks.tasks.values())
    return {
        "nodes": _list_nodes(head, peer, args),
        "tasks": dict(states),
        "actors": dict(Counter(a.state for a in head.actors.actors.values())),
        "placement_groups": [
            {"id": g.id, "name": g.name, "state": g.state, "why": g.why}
            for g in head.placement.groups.groups.values()
            if g.state != "REMOVED"
        ],
        "objects": len(head.objects.objects),
        "store_used": head.objects.used,
        "store_capacity": head.objects.capacity,
        "spilled_bytes": head.objects.spilled_bytes,
        "workers": sum(1 for _ in head.nodes.workers()),
        "jobs": _list_jobs(head, peer, args),
        "time": time.time(),
        "event_seq": head.events.seq,
    }


def _memory(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    """One row per reference to each object, as `ray memory`: who holds it and why."""

    def who(client_id: str) -> tuple[str, int | None]:
        holder = head.peers.get(client_id)
        if holder is not None:
            return holder.role, holder.pid
        return client_id.partition(":")[0] if ":" in client_id else "gone", None

    used_by: dict[str, list[str]] = {}
    for task in head.tasks.tasks.values():
        if task.state not in ("FINISHED", "FAILED"):
            for oid in task.spec.get("deps", ()):
                used_by.setdefault(oid, []).append(task.id)
    inside: dict[str, list[str]] = {}
    for oid, obj in head.objects.objects.items():
        for inner in obj.contained:
            inside.setdefault(inner, []).append(oid)
    ips = {node.id: node.ip for node in head.nodes.alive()}
    rows = []
    for oid, obj in head.objects.objects.items():
        owner_role, owner_pid = who(obj.owner or "")
        base = {
            "object_id": oid,
            "object_size": obj.size,
            "where": {"i": "inline", "s": "shared_memory", "f": "spilled", "e": "error"}.get(
                obj.desc[0], "?"
            )
            if obj.desc
            else "pending",
            "owner_role": owner_role,
            "owner_pid": owner_pid,
            "task_id": obj.task_id,
            "node_ip": ips.get(getattr(obj, "node", None) or "", head.node_ip),
        }
        refs = []
        for client_id in sorted(obj.holders):
            role, pid = who(client_id)
            kind = "ACTOR_HANDLE" if oid.endswith(".h") else "LOCAL_REFERENCE"
            if role in ("actor", "task"):  # a large argument, stored for its task or actor
                kind = "USED_BY_PENDING_TASK" if role == "task" else "PINNED_IN_MEMORY"
            refs.append((kind, role, pid, client_id.partition(":")[2] or None))
        refs += [("USED_BY_PENDING_TASK", "task", None, t) for t in used_by.get(oid, ())]
        refs += [("CAPTURED_IN_OBJECT", "object", None, o) for o in inside.get(oid, ())]
        for kind, role, pid, via in refs or [("PINNED_IN_MEMORY", "head", None, None)]:
            rows.append({**base, "reference_type": kind, "role": role, "pid": pid, "via": via})
    return rows


def _pg_create(head: Head, peer: Peer, args: dict) -> bool:
    from .placement import check_bundles

    check_bundles(args["bundles"], args["strategy"])  # a client of ours checked; others may not
    head.placement.create(args)
    return True


def _pg_remove(head: Head, peer: Peer, args: dict) -> bool:
    head.placement.remove(args["id"])
    return True


def _pg_table(head: Head, peer: Peer, args: dict) -> dict[str, Any]:
    return head.placement.table(peer, args)


def _list_placement_groups(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    groups = list(head.placement.groups.groups.values())
    return [g.state_row() for g in groups[-int(args.get("limit", len(groups))) :]]


def _stop(head: Head, peer: Peer, args: dict) -> bool:
    head.running = False
    return True


# runtime_env packages (runtime_env.py): stored once by content, fetched by each node's workers.
def _package_has(head: Head, peer: Peer, args: dict) -> bool:
    return head.packages.has(str(args["uri"]))


def _package_put(head: Head, peer: Peer, args: dict) -> bool:
    data = args["data"]
    if not isinstance(data, bytes):
        raise ValueError("package_put: data must be bytes")
    return head.packages.put(str(args["uri"]), int(args["offset"]), int(args["size"]), data)


def _package_get(head: Head, peer: Peer, args: dict) -> tuple[int, bytes] | None:
    return head.packages.get(str(args["uri"]), int(args["offset"]))


_HANDLERS = {
    "cluster_resources": _cluster_resources,
    "available_resources": _available_resources,
    "nodes": _nodes,
    "locate": _locate,
    "create_actor": _create_actor,
    "get_actor": _get_actor,
    "actor_state": _actor_state,
    "list_tasks": _list_tasks,
    "list_actors": _list_actors,
    "list_objects": _list_objects,
    "list_nodes": _list_nodes,
    "list_workers": _list_workers,
    "list_jobs": _list_jobs,
    "summarize_tasks": _summarize_tasks,
    "make_room": _make_room,
    "status": _status,
    "memory": _memory,
    "pg_create": _pg_create,
    "pg_remove": _pg_remove,
    "pg_table": _pg_table,
    "list_placement_groups": _list_placement_groups,
    "stop": _stop,
    "package_has": _package_has,
    "package_put": _package_put,
    "package_get": _package_get,
}
