"""The cluster's state, as `ray.util.state`: list_* of tasks, actors, objects, nodes, workers,
jobs and placement groups; get_* of one by id; summarize_tasks/actors/objects.

Rows are `StateRecord`s: dicts that also allow attribute access (`task.state`, `task.name`), like
Ray's state dataclasses. `filters` take Ray's form `[("state", "=", "FINISHED"), ...]`.

`subscribe(handler)` follows the event stream (see `_core/events.py`): the handler gets
`(first_seq, events, lost)` batches on a background thread; it returns a function that stops it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._core import api, ids, protocol

__all__ = [
    "StateRecord",
    "get_actor",
    "get_job",
    "get_node",
    "get_objects",
    "get_placement_group",
    "get_task",
    "get_worker",
    "list_actors",
    "list_jobs",
    "list_nodes",
    "list_objects",
    "list_placement_groups",
    "list_tasks",
    "list_workers",
    "subscribe",
    "summarize_actors",
    "summarize_objects",
    "summarize_tasks",
]

Filter = tuple[str, str, Any]


class StateRecord(dict):
    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _apply_filters(rows: Iterable[dict], filters: list[Filter] | None) -> list[StateRecord]:
    out = []
    for row in rows:
        if filters and not all(_match(row, f) for f in filters):
            continue
        out.append(StateRecord(row))
    return out


def _match(row: dict, flt: Filter) -> bool:
    try:
        key, op, value = flt
    except (TypeError, ValueError):
        raise ValueError(
            f"a filter is (key, op, value) such as ('state', '=', 'RUNNING'); got {flt!r}"
        ) from None
    if key not in row:
        raise ValueError(f"cannot filter on {key!r}; rows have {sorted(row)}")
    actual = row[key]
    if isinstance(actual, str) and isinstance(value, str):
        actual, value = actual.upper(), value.upper()
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    raise ValueError(f"filter operator must be '=' or '!=', got {op!r}")


# Fields holding task, actor, object or worker ids: shown in hex, as `ObjectRef.hex()` and
# `get_runtime_context()` show them (the head's rows keep the short ids the cluster uses).
_ID_FIELDS = ("task_id", "actor_id", "object_id", "worker_id", "parent_task_id")
_ID_LIST_FIELDS = ("depends_on", "returns")


def _hex_ids(row: dict) -> dict:
    for key in _ID_FIELDS:
        value = row.get(key)
        if isinstance(value, str):
            row[key] = ids.to_hex(value)
    for key in _ID_LIST_FIELDS:
        values = row.get(key)
        if isinstance(values, list):
            row[key] = [ids.to_hex(v) for v in values]
    return row


def _rows(
    what: str, filters: list[Filter] | None, limit: int, timeout: float | None
) -> list[StateRecord]:
    rows = api.connected_client().request(what, {"limit": limit}, timeout=timeout or 30)
    return _apply_filters((_hex_ids(r) for r in rows), filters)[:limit]


def _lister(table: str, what: str) -> Callable[..., list[StateRecord]]:
    """One of Ray's `list_*` functions (same signature); rows come from the head's `table`."""

    def list_rows(
        address: str | None = None,
        filters: list[Filter] | None = None,
        limit: int = 10_000,
        timeout: int = 30,
        detail: bool = False,
        raise_on_missing_output: bool = True,
    ) -> list[StateRecord]:
        return _rows(table, filters, limit, timeout)

    list_rows.__name__ = list_rows.__qualname__ = table
    list_rows.__doc__ = f"The cluster's {what}, as rows; `filters` as in ray.util.state."
    return list_rows


list_tasks = _lister("list_tasks", "tasks (recent history included)")
list_actors = _lister("list_actors", "actors, dead ones included")
list_objects = _lister("list_objects", "objects in the store")
list_nodes = _lister("list_nodes", "nodes")
list_workers = _lister("list_workers", "worker processes")
list_jobs = _lister("list_jobs", "jobs (drivers)")
list_placement_groups = _lister(
    "list_placement_groups", "placement groups (removed ones included), with why pending"
)


def _get(lister: Callable[..., list[StateRecord]], key: str, id: str, timeout: int) -> Any:
    if not isinstance(id, str) or not id:
        raise TypeError(f"the id is a hex string (as `.hex()` gives it); got {id!r}")
    want = id.lower()
    return [r for r in lister(timeout=timeout, limit=1_000_000) if str(r.get(key)).lower() == want]


def get_task(
    id: Any, address: str | None = None, timeout: int = 30, _explain: bool = False
) -> StateRecord | list[StateRecord] | None:
    """The task with this id (a hex string, or the ObjectRef it returned), as Ray's: None if
    there is none, its row, or a list of rows when it ran several attempts (retries)."""
    if not isinstance(id, str) and hasattr(id, "task_id"):
        id = id.task_id().hex()
    rows = _get(list_tasks, "task_id", id, timeout)
    if not rows:
        return None
    return rows[0] if len(rows) == 1 else rows


def _getter(lister: Callable[..., list[StateRecord]], key: str, what: str) -> Callable[..., Any]:
    def get_one(
        id: str, address: str | None = None, timeout: int = 30, _explain: bool = False
    ) -> StateRecord | None:
        rows = _get(lister, key, id, timeout)
        return rows[0] if rows else None

    get_one.__name__ = get_one.__qualname__ = f"get_{what}"
    get_one.__doc__ = f"The {what} with this id (hex), or None if there is none."
    return get_one


get_actor = _getter(list_actors, "actor_id", "actor")
get_node = _getter(list_nodes, "node_id", "node")
get_worker = _getter(list_workers, "worker_id", "worker")
get_job = _getter(list_jobs, "job_id", "job")
get_placement_group = _getter(list_placement_groups, "placement_group_id", "placement_group")


def get_objects(
    id: str, address: str | None = None, timeout: int = 30, _explain: bool = False
) -> list[StateRecord] | None:
    """The rows of the object with this id (hex): a list, as Ray's, or None if there is none."""
    return _get(list_objects, "object_id", id, timeout) or None


def summarize_tasks(address: str | None = None, timeout: int = 30, **_: Any) -> dict[str, Any]:
    return api.connected_client().request("summarize_tasks", timeout=timeout)


def summarize_actors(address: str | None = None, timeout: int = 30, **_: Any) -> dict[str, Any]:
    """Actors by class, with their state counts, in Ray's form
    (`{"cluster": {"summary": {class: {...}}, "total_actors": n, "summary_by": "class"}}`)."""
    summary: dict[str, dict[str, Any]] = {}
    actors = list_actors(timeout=timeout, limit=1_000_000)
    for row in actors:
        entry = summary.setdefault(
            row["class_name"], {"class_name": row["class_name"], "state_counts": {}}
        )
        entry["state_counts"][row["state"]] = entry["state_counts"].get(row["state"], 0) + 1
    return {"cluster": {"summary": summary, "total_actors": len(actors), "summary_by": "class"}}


def summarize_objects(address: str | None = None, timeout: int = 30, **_: Any) -> dict[str, Any]:
    """Objects in the store, in Ray's form. Ray groups them by the call site that made them
    when call sites are recorded; like Ray without that setting, everything is one group,
    "disabled"."""
    rows = list_objects(timeout=timeout, limit=1_000_000)
    states: dict[str, int] = {}
    for row in rows:
        states[row["status"]] = states.get(row["status"], 0) + 1
    size_mb = sum(int(r.get("object_size") or 0) for r in rows) / (1024 * 1024)
    group = {
        "total_objects": len(rows),
        "total_size_mb": size_mb,
        "total_num_workers": len({h for r in rows for h in r.get("holders") or ()}),
        "total_num_nodes": len({r.get("node_id") for r in rows}),
        "task_state_counts": states,
    }
    return {
        "cluster": {
            "summary": {"disabled": group} if rows else {},
            "total_objects": len(rows),
            "total_size_mb": size_mb,
            "callsite_enabled": False,
            "summary_by": "callsite",
        }
    }


def subscribe(
    handler: Callable[[int, list[tuple], int], None], after_seq: int = -1
) -> Callable[[], None]:
    """Follow the event stream; returns a function that unsubscribes. Events name tasks, actors
    and objects by the runtime's own short ids (what the views and the lab feed use); the list
    functions and `ObjectRef.hex()` show the same ids in hex."""
    client = api.connected_client()
    client.subscribe(handler, after_seq)

    def unsubscribe() -> None:
        if handler in client._event_handlers:
            client._event_handlers.remove(handler)
        if client.alive:
            client.send((protocol.UNSUBSCRIBE,))

    return unsubscribe
