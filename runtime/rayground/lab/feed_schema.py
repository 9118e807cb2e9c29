"""The lab feed's messages, defined once: the server extension builds them (feed.py,
cluster_hub.py), the JupyterLab panel reads them (extension/src/feedtypes.ts, generated from this
module by scripts/ts_types.py, so a key renamed or retyped here fails the extension's build until
the file is regenerated), and the feed's tests hold every message they receive to these types
(`problems`).

The task row is the DAG model's (`rayground.jupyter.dag.Task`); library boards and the course's
lessons have their own TypeScript modules and are referred to by name (`TsName`).
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, NewType, TypedDict

from ..jupyter.dag import Task

# Types the extension defines in modules of their own: named here, not generated.
LibraryBoard = NewType("LibraryBoard", dict[str, dict[str, dict[str, Any]]])
Lesson = NewType("Lesson", dict[str, Any])
ExerciseProgress = NewType("ExerciseProgress", dict[str, Any])
TS_NAMES: dict[Any, tuple[str, str]] = {
    LibraryBoard: ("LibraryBoard", "./libraries"),
    Lesson: ("ILesson", "./progress"),
    ExerciseProgress: ("IExerciseProgress", "./progress"),
}


class NodeRow(TypedDict):
    """A node, as the state API lists it (`list_nodes`)."""

    node_id: str
    node_ip: str
    is_head_node: bool
    state: str
    node_name: str
    resources_total: dict[str, float]
    resources_available: dict[str, float]
    object_store_used: int
    object_store_capacity: int
    spilled_bytes: int
    num_workers: int
    object_server: str | None  # where other nodes pull its objects from
    start_time: float


class ClusterInfo(TypedDict):
    """One cluster as the panel's list shows it."""

    id: str
    address: str
    tcp_address: str | None
    pid: int
    owner_pid: int | None
    started: float
    kind: Literal["server", "standalone", "driver"]
    stoppable: bool
    kernel_ids: list[str]
    connected: bool
    error: str | None
    nodes: list[NodeRow]
    tasks: dict[str, int]
    actors: dict[str, int]
    objects: int
    store_used: int
    store_capacity: int
    workers: int
    drivers: int


class ObjectRow(TypedDict):
    id: str
    size: int
    where: str | None
    spilled: bool
    status: str | None
    owner: str | None
    task_id: str | None
    refs: int
    pins: int
    holders: list[str]
    owner_name: str  # who owns it, in words ("worker pid 123"); "" when no owner is known
    held_by: list[str]  # what keeps it alive, in words
    created: float | None
    node: str | None  # the node that wrote it
    copies: list[str]  # the nodes it was copied to since (transfers between nodes)


class Placement(TypedDict):
    """Where the workers run: pid -> node id, node id -> its label (IP, "(head)")."""

    workers: dict[str, str]
    nodes: dict[str, str]


class ObjectTable(TypedDict):
    rows: list[ObjectRow]
    count: int
    used: int
    capacity: int | None
    spilled_bytes: int


class ActorRow(TypedDict):
    id: str
    class_name: str | None
    name: str
    state: str
    pid: int | None
    calls_done: int
    calls_queued: int
    restarts: int
    death_cause: str | None


class Curriculum(TypedDict):
    lessons: list[Lesson]
    progress: dict[str, ExerciseProgress]
    progress_file: str
    progress_error: str | None


class ClustersMessage(TypedDict):
    type: Literal["clusters"]
    clusters: list[ClusterInfo]


class CurriculumMessage(Curriculum):
    type: Literal["curriculum"]


class WatchingMessage(TypedDict):
    type: Literal["watching"]
    cluster: str | None
    kernel_id: str | None
    reason: str


class SnapshotMessage(TypedDict):
    type: Literal["snapshot"]
    cluster: str
    tasks: list[Task]
    objects: ObjectTable
    actors: list[ActorRow]
    placement: Placement
    status: dict[str, Any]
    libraries: LibraryBoard


class TasksMessage(TypedDict):
    type: Literal["tasks"]
    cluster: str
    upsert: list[Task]
    removed: list[str]


class LibrariesMessage(TypedDict):
    type: Literal["libraries"]
    cluster: str
    libraries: LibraryBoard


class TablesMessage(TypedDict):
    type: Literal["tables"]
    cluster: str
    objects: ObjectTable
    actors: list[ActorRow]
    placement: Placement


class StatusMessage(TypedDict):
    type: Literal["status"]
    cluster: str
    status: dict[str, Any]


class ErrorMessage(TypedDict):
    type: Literal["error"]
    message: str


FEED_MESSAGES: tuple[type, ...] = (
    ClustersMessage,
    CurriculumMessage,
    WatchingMessage,
    SnapshotMessage,
    TasksMessage,
    LibrariesMessage,
    TablesMessage,
    StatusMessage,
    ErrorMessage,
)
# The rows, in the order the generated file declares them (each before its first use).
ROWS: tuple[type, ...] = (
    NodeRow,
    ClusterInfo,
    ObjectRow,
    Placement,
    ObjectTable,
    ActorRow,
    Curriculum,
)


def message_type(name: str) -> type | None:
    """The TypedDict of the feed message whose `type` is `name`, or None."""
    for cls in FEED_MESSAGES:
        if typing.get_args(typing.get_type_hints(cls)["type"]) == (name,):
            return cls
    return None


def problems(value: Any, hint: Any = None, where: str = "message") -> list[str]:
    """What in `value` does not match `hint` (a feed message's TypedDict when omitted): each a
    line naming the path, what was expected and what came. Empty when it matches."""
    if hint is None:
        kind = value.get("type") if isinstance(value, dict) else None
        hint = message_type(kind) if isinstance(kind, str) else None
        if hint is None:
            return [f"{where}: no feed message has type {kind!r}"]
    if hint is Any:
        return []
    if hint in TS_NAMES:
        return problems(value, hint.__supertype__, where)
    if hint is type(None):
        return [] if value is None else [f"{where}: expected null, got {value!r}"]
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a number, got {value!r}"]
    if hint in (str, int, bool):
        ok = isinstance(value, hint) and (hint is bool or not isinstance(value, bool))
        return [] if ok else [f"{where}: expected {hint.__name__}, got {value!r}"]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return [] if value in args else [f"{where}: expected one of {args}, got {value!r}"]
    if origin in (typing.Union, types.UnionType):
        options = [problems(value, a, where) for a in args]
        return [] if any(not p for p in options) else min(options, key=len)
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in problems(item, args[0], f"{where}[{i}]")]
    if origin is tuple:
        if not isinstance(value, list | tuple) or len(value) != len(args):
            return [f"{where}: expected {len(args)} items, got {value!r}"]
        pairs = enumerate(zip(value, args, strict=True))
        return [p for i, (v, a) in pairs for p in problems(v, a, f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        return [p for k, v in value.items() for p in problems(v, args[1], f"{where}.{k}")]
    if typing.is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{where}: expected {hint.__name__}, got {type(value).__name__}"]
        hints = typing.get_type_hints(hint)
        out = [f"{where}: {hint.__name__} has no key {k!r}" for k in value if k not in hints]
        out += [f"{where}: missing {k!r}" for k in hint.__required_keys__ if k not in value]
        for key, sub in hints.items():
            if key in value:
                out += problems(value[key], sub, f"{where}.{key}")
        return out
    raise TypeError(f"no check for {hint!r}: extend feed_schema.problems")
