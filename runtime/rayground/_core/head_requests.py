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

if TYPE_CHECKING:
    from .head import Head, Peer


def handle_request(head: Head, peer: Peer, what: str, args: dict[str, Any]) -> Any:
    handler = _HANDLERS.get(what)
    if handler is None:
        raise ValueError(f"the head does not know the request {what!r} (version mismatch?)")
    return handler(head, peer, args)


def _cluster_resources(head: Head, peer: Peer, args: dict) -> dict[str, float]:
    return dict(head.resources.total)


def _available_resources(head: Head, peer: Peer, args: dict) -> dict[str, float]:
    return {k: v for k, v in head.resources.snapshot_available().items() if v > 0}


def _node_row(head: Head) -> dict[str, Any]:
    return {
        "NodeID": head.node_id,
        "Alive": True,
        "NodeManagerAddress": head.node_ip,
        "NodeManagerHostname": os.uname().nodename,
        "NodeName": head.node_ip,
        "Resources": dict(head.resources.total),
        "alive": True,
        "IsHead": True,
        "ObjectStoreSocketName": head.shm_dir,
    }


def _nodes(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    return [_node_row(head)]


def _create_actor(head: Head, peer: Peer, args: dict) -> dict[str, Any]:
    return head.actors.create(peer, args["spec"])


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
        row["node_id"] = head.node_id
        rows.append(row)
        if len(rows) >= limit:
            break
    rows.reverse()
    return rows


def _list_actors(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    rows = head.actors.snapshot()
    for row in rows:
        row["node_id"] = head.node_id
    return rows


def _list_objects(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    rows = head.objects.snapshot()
    for row in rows:
        row["node_id"] = head.node_id
        row["ip"] = head.node_ip
    return rows


def _list_nodes(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    row = _node_row(head)
    return [
        {
            "node_id": row["NodeID"],
            "node_ip": row["NodeManagerAddress"],
            "is_head_node": True,
            "state": "ALIVE",
            "node_name": row["NodeName"],
            "resources_total": row["Resources"],
            "resources_available": head.resources.snapshot_available(),
            "object_store_used": head.objects.used,
            "object_store_capacity": head.objects.capacity,
            "spilled_bytes": head.objects.spilled_bytes,
            "num_workers": len(head.pool.workers),
        }
    ]


def _list_workers(head: Head, peer: Peer, args: dict) -> list[dict[str, Any]]:
    return [
        {
            "worker_id": w.id,
            "pid": w.pid,
            "state": w.state,
            "blocked": w.blocked,
            "actor_id": w.actor_id,
            "task_id": w.task.id if w.task is not None else None,
            "node_id": head.node_id,
            # Lets a view name the worker behind an object's holder (holders are client ids).
            "client_id": w.peer.client_id if w.peer is not None else None,
        }
        for w in head.pool.workers.values()
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


def _make_room(head: Head, peer: Peer, args: dict) -> bool:
    need = int(args["bytes"])
    freed = head.objects.spill_until(need, head.tasks.objects_in_use())
    return freed >= need or head.objects.used == 0


def _status(head: Head, peer: Peer, args: dict) -> dict[str, Any]:
    states = Counter(t.state for t in head.tasks.tasks.values())
    return {
        "nodes": _list_nodes(head, peer, args),
        "tasks": dict(states),
        "actors": dict(Counter(a.state for a in head.actors.actors.values())),
        "objects": len(head.objects.objects),
        "store_used": head.objects.used,
        "store_capacity": head.objects.capacity,
        "spilled_bytes": head.objects.spilled_bytes,
        "workers": len(head.pool.workers),
        "jobs": _list_jobs(head, peer, args),
        "time": time.time(),
        "event_seq": head.events.seq,
    }


def _stop(head: Head, peer: Peer, args: dict) -> bool:
    head.running = False
    return True


_HANDLERS = {
    "cluster_resources": _cluster_resources,
    "available_resources": _available_resources,
    "nodes": _nodes,
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
    "stop": _stop,
}
