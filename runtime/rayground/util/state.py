"""The cluster's state, as `ray.util.state`: list_tasks/actors/objects/nodes, summarize_tasks.

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
    "list_actors",
    "list_jobs",
    "list_nodes",
    "list_objects",
    "list_placement_groups",
    "list_tasks",
    "list_workers",
    "subscribe",
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


def summarize_tasks(address: str | None = None, timeout: int = 30, **_: Any) -> dict[str, Any]:
    return api.connected_client().request("summarize_tasks", timeout=timeout)


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
