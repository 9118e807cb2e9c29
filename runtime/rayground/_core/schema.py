"""The one declared schema of the wire: every message, every request and every handshake INFO,
with its fields and their types. The head validates what peers send against it, and the tables
in docs/protocol.md are rendered from it (`python -m rayground._core.schema` prints them; a test
fails when the document and this module disagree).

The head checks the shape of every message from a peer before acting on it: a malformed message
(wrong arity, wrong field types, a desc naming a path outside the session, a resource that is not
a finite non-negative number) is not acted on, and a malformed request is answered with the
problem, so nothing malformed is ever stored in the head's tables, where it could fail later far
from its cause. The checks are type tests in plain loops: measured here, checking a submit costs
about half as much as unpickling it.

Compatibility rule (as jupyter_client's): a receiver ignores message kinds it does not know,
trailing fields past the declared ones, and keys of a dict it does not know.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import protocol
from .direct_calls import ACTOR_AT

# ---------------------------------------------------------------------------- types

_SEQ = (list, tuple)
RESOURCE_MAX = 1e18  # larger than any real quantity (bytes of memory included)
_RESOURCES_MAX_KEYS = 1024
_STR_MAX = 4096  # ids, names, addresses


@dataclass(frozen=True)
class Type:
    """A field's type: how the document names it, and the check the head applies."""

    name: str
    check: Callable[[Any], bool]


def _is_ids(value: Any) -> bool:
    if type(value) not in _SEQ:
        return False
    for v in value:  # noqa: SIM110 (a loop is ~3x cheaper than all(<genexpr>) here)
        if type(v) is not str:
            return False
    return True


def _is_name(value: Any) -> bool:
    # A shared-memory segment name: it becomes a file name in the session's directory.
    return type(value) is str and 0 < len(value) < 256 and "/" not in value and value[0] != "."


_FILE_DIR: list[str] = []  # the head's spill directory: the one place "f" descs may point


def allow_files_in(directory: str) -> None:
    """Let peers send "f" descs (objects written straight to disk) for files in `directory`."""
    _FILE_DIR[:] = [directory]


def is_desc(desc: Any) -> bool:
    """A desc a peer may send: inline bytes, an error, a segment in the session's shm dir, or a
    file in the session's spill dir (an object written to disk because memory was full)."""
    if type(desc) is not tuple or not desc:
        return False
    kind = desc[0]
    if kind == "i" or kind == "e":
        return len(desc) >= 2 and type(desc[1]) is bytes
    if kind == "s":
        return len(desc) >= 3 and _is_name(desc[1]) and type(desc[2]) is int and desc[2] >= 0
    if kind == "f":
        if len(desc) < 3 or type(desc[1]) is not str or type(desc[2]) is not int:
            return False
        directory, _, name = desc[1].rpartition("/")
        return bool(_FILE_DIR) and directory == _FILE_DIR[0] and _is_name(name)
    return False


def _is_resources(value: Any) -> bool:
    # Security: NaN, infinities and absurd sizes would poison the scheduler's arithmetic (a NaN
    # never compares, an inf never runs out): only finite, non-negative, bounded numbers.
    if value is None:
        return True
    if type(value) is not dict or len(value) > _RESOURCES_MAX_KEYS:
        return False
    for k, v in value.items():
        if type(k) is not str or type(v) not in (int, float):
            return False
        if not 0 <= v <= RESOURCE_MAX or not math.isfinite(v):
            return False
    return True


_SPEC_STRS = (
    "name",
    "fn_id",
    "actor_id",
    "job_id",
    "parent_task_id",
    "namespace",
    "handle_id",
    "direct_worker",
)
_SPEC_INTS = ("max_retries", "max_restarts", "max_task_retries")


def _is_spec(spec: Any, id_key: str) -> bool:
    if type(spec) is not dict or type(spec.get(id_key)) is not str:
        return False
    get = spec.get
    for key in ("returns", "deps", "contained"):
        v = get(key)
        if v is not None and not _is_ids(v):
            return False
    for key in _SPEC_STRS:
        v = get(key)
        if v is not None and type(v) is not str:
            return False
    for key in _SPEC_INTS:
        v = get(key)
        if v is not None and type(v) is not int:
            return False
    args, blob = get("args"), get("fn_blob")
    return (
        _is_resources(get("resources"))
        and (args is None or is_desc(args))
        and (blob is None or type(blob) is bytes)
    )


def _descs(v: Any) -> bool:
    if type(v) not in _SEQ:
        return False
    for d in v:  # noqa: SIM110 (hot path, see _is_ids)
        if not is_desc(d):
            return False
    return True


def _ids_lists(v: Any) -> bool:
    if type(v) not in _SEQ:
        return False
    for ids in v:  # noqa: SIM110 (hot path, see _is_ids)
        if not _is_ids(ids):
            return False
    return True


def _short_str(v: Any) -> bool:
    return type(v) is str and len(v) <= _STR_MAX


def _id(v: Any) -> bool:
    return type(v) is str and 0 < len(v) <= 256


def _str_dict(v: Any) -> bool:
    if type(v) is not dict:
        return False
    for k, x in v.items():  # noqa: SIM110 (see _is_ids)
        if type(k) is not str or type(x) is not str:
            return False
    return True


def _gpu_ids(v: Any) -> bool:  # (once per node: no need for a hand-made loop)
    return type(v) in _SEQ and all(type(x) in (str, int) for x in v)


def _optional(t: Type) -> Type:
    check = t.check
    return Type(f"{t.name} or None", lambda v: v is None or check(v))


STR = Type("str", lambda v: type(v) is str)
ID = Type("id (str, 1-256 chars)", _id)
SHORT_STR = Type(f"str (at most {_STR_MAX} chars)", _short_str)
INT = Type("int", lambda v: type(v) is int)
COUNT = Type("int >= 0", lambda v: type(v) is int and v >= 0)
BOOL = Type("bool", lambda v: type(v) is bool)
ANY = Type("any plain value", lambda v: True)
DICT = Type("dict", lambda v: type(v) is dict)
BYTES = Type("bytes", lambda v: type(v) is bytes)
LIST = Type("list", lambda v: type(v) is list)
IDS = Type("[id]", _is_ids)
STRS = Type("[str]", _is_ids)
STR_DICT = Type("{str: str}", _str_dict)
DESC = Type("desc", is_desc)
DESCS = Type("[desc]", _descs)
IDS_LISTS = Type("[[id]]", _ids_lists)
RESOURCES = Type(f"{{str: finite number in [0, {RESOURCE_MAX:g}]}}", _is_resources)
GPU_IDS = Type("[str or int]", _gpu_ids)
TASK_SPEC = Type("task spec", lambda v: _is_spec(v, "task_id") and "returns" in v)
ACTOR_SPEC = Type("actor spec", lambda v: _is_spec(v, "actor_id"))


@dataclass(frozen=True)
class Field:
    name: str
    type: Type
    doc: str = ""
    required: bool = True  # (dicts: INFO and request args; tuple fields are all required)


@dataclass(frozen=True)
class Message:
    kind: str
    senders: str  # who may send it
    fields: tuple[Field, ...]
    doc: str


# ---------------------------------------------------------------------------- messages

# Peer -> head. The head validates each against this before acting on it.
TO_HEAD: tuple[Message, ...] = (
    Message(
        protocol.SUBMIT,
        "driver, worker",
        (Field("spec", TASK_SPEC, "the task: ids, function, args desc, resources, options"),),
        "Run a task (or call an actor: the spec has `actor_id`).",
    ),
    Message(
        protocol.PUT,
        "driver, worker",
        (
            Field("oid", STR, "the new object's id"),
            Field("desc", DESC, "where its bytes are"),
            Field("contained", IDS, "ids of the objects it holds refs to"),
        ),
        "An object was stored (ray.put).",
    ),
    Message(protocol.INCREF, "driver, worker", (Field("oids", IDS),), "References taken."),
    Message(protocol.DECREF, "driver, worker", (Field("oids", IDS),), "References dropped."),
    Message(
        protocol.WANT,
        "driver, worker",
        (Field("oids", IDS), Field("blocking", BOOL, "the sender waits (a worker gives way)")),
        "Send me `obj` for each of these when it is ready.",
    ),
    Message(protocol.UNBLOCKED, "worker", (), "The worker resumed after a blocking `want`."),
    Message(
        protocol.RETURN,
        "worker",
        (Field("task_ids", IDS),),
        "Queued tasks the worker gives back before it blocks.",
    ),
    Message(
        protocol.DONE,
        "worker",
        (
            Field("task_id", STR),
            Field("descs", DESCS, "one per return value"),
            Field("contained", IDS_LISTS, "ids held by each return value"),
        ),
        "A task finished. An optional 5th field, a dict, may hold `direct` (the address an "
        "actor takes direct calls at), `times` (when the task or call started and ended, by "
        "the worker's clock) and `caller` (of a direct call).",
    ),
    Message(
        protocol.FAILED,
        "worker",
        (
            Field("task_id", STR),
            Field("error", DESC, "the pickled exception (an `e` desc)"),
            Field("retry_allowed", BOOL),
            Field("traceback", STR),
        ),
        "A task raised.",
    ),
    Message(
        protocol.GEN_ITEM,
        "worker",
        (
            Field("task_id", STR),
            Field("index", INT),
            Field("desc", DESC),
            Field("contained", IDS),
        ),
        "A generator task yielded an item.",
    ),
    Message(
        protocol.CANCEL,
        "driver, worker",
        (Field("oid", STR), Field("force", BOOL), Field("recursive", BOOL)),
        "ray.cancel of the task that makes `oid`.",
    ),
    Message(
        protocol.CREATE_ACTOR,
        "driver, worker",
        (Field("spec", ACTOR_SPEC),),
        "Create an actor (no reply; `request create_actor` is the one that answers).",
    ),
    Message(
        protocol.KILL_ACTOR,
        "driver, worker",
        (Field("actor_id", STR), Field("no_restart", BOOL)),
        "ray.kill.",
    ),
    Message(protocol.ACTOR_EXIT, "worker", (Field("actor_id", STR),), "exit_actor() was called."),
    Message(
        protocol.REQUEST,
        "any peer",
        (
            Field("req_id", INT, "echoed in the `reply`"),
            Field("what", STR, "one of the requests below"),
            Field("args", DICT, "the request's arguments (below)"),
        ),
        "A question; the head answers every request with exactly one `reply`, an error if the "
        "request is malformed or unknown.",
    ),
    Message(
        protocol.LOG,
        "worker",
        (Field("job_id", STR), Field("lines", LIST, "(prefix, stream, text, task_id) tuples")),
        "Printed output of a job's tasks, for its driver.",
    ),
    Message(
        protocol.SUBSCRIBE,
        "any peer",
        (Field("after_seq", INT),),
        "Push me `events` after this sequence number.",
    ),
    Message(protocol.UNSUBSCRIBE, "any peer", (), "Stop pushing events."),
    Message(protocol.GOODBYE, "any peer", (), "Leaving cleanly; the head closes the connection."),
    Message(
        protocol.WORKER_EXIT,
        "node",
        (Field("worker_id", STR), Field("code", _optional(INT), "exit code, None if unknown")),
        "A worker of this node exited.",
    ),
    Message(
        protocol.COPIED,
        "driver, worker",
        (Field("oid", STR),),
        "This node now holds a copy of the object (pulled from another node).",
    ),
)

# Head -> peer. Peers trust their head (they verified it in the handshake); listed for the
# document.
FROM_HEAD: tuple[Message, ...] = (
    Message(
        "welcome",
        "head",
        (Field("session", DICT, "session_dir, shm_dir, node_id, node_ip, job_id, ..."),),
        "The first message after the handshake: the peer is in.",
    ),
    Message(
        "refused",
        "head",
        (Field("reason", STR),),
        "Instead of `welcome`: the peer may not join (and why); the head then closes.",
    ),
    Message(protocol.OBJ, "head", (Field("oid", STR), Field("desc", DESC)), "An object is ready."),
    Message(
        protocol.REPLY,
        "head",
        (
            Field("req_id", INT),
            Field("ok", BOOL),
            Field("value", ANY, "the answer, or (error type name, message) when not ok"),
        ),
        "The answer to a `request`.",
    ),
    Message(
        protocol.EXECUTE,
        "head",
        (
            Field("spec", TASK_SPEC),
            Field("fn_blob", _optional(Type("bytes", lambda v: type(v) is bytes))),
            Field("args", DICT, "{argument position: desc}"),
        ),
        "Run this task (to a worker).",
    ),
    Message(
        protocol.EVENTS,
        "head",
        (
            Field("first_seq", INT),
            Field("events", LIST, "event tuples"),
            Field("lost", INT, "events dropped because the subscriber fell behind"),
        ),
        "State changes, to subscribers.",
    ),
    Message(protocol.SHUTDOWN, "head", (Field("reason", STR),), "The head is going away."),
    Message(
        protocol.CANCEL_TASK,
        "head",
        (Field("task_id", STR), Field("force", BOOL)),
        "Cancel this running task (to a worker).",
    ),
    Message(
        protocol.KILL_WORKER,
        "head",
        (),
        "Send the reports you still hold, then die (to an actor's worker that takes direct calls).",
    ),
    Message("warning", "head", (Field("text", STR),), "Something a driver should print."),
    Message(
        ACTOR_AT,
        "head",
        (
            Field("actor_id", STR),
            Field("address", _optional(STR), "where the actor's worker takes direct calls"),
            Field("worker_id", STR),
            Field("calls_left", INT, "how many of this caller's calls have left the head"),
        ),
        "Direct actor calls (direct_calls.py) may start.",
    ),
    Message(
        protocol.NODE_SPAWN,
        "head",
        (Field("worker_id", STR), Field("cwd", _optional(STR))),
        "Fork a worker (to a node).",
    ),
    Message(
        protocol.NODE_KILL,
        "head",
        (Field("worker_id", STR), Field("signal", INT)),
        "Signal a worker (to a node).",
    ),
    Message(
        protocol.NODE_FREE,
        "head",
        (Field("names", STRS),),
        "Unlink these object copies (to a node).",
    ),
)

# ---------------------------------------------------------------------------- requests

_LIMIT = Field("limit", COUNT, "at most this many rows (the newest)", required=False)
REQUESTS: dict[str, tuple[Field, ...]] = {
    "cluster_resources": (),
    "available_resources": (),
    "nodes": (),
    "locate": (Field("oid", STR),),
    "create_actor": (Field("spec", ACTOR_SPEC),),
    "get_actor": (
        Field("name", STR),
        Field("namespace", _optional(STR), required=False),
    ),
    "actor_state": (Field("actor_id", STR),),
    "list_tasks": (_LIMIT,),
    "list_actors": (),
    "list_objects": (_LIMIT,),
    "list_nodes": (),
    "list_workers": (),
    "list_jobs": (),
    "list_placement_groups": (_LIMIT,),
    "summarize_tasks": (),
    "make_room": (Field("bytes", COUNT, "room wanted in shared memory"),),
    "status": (),
    "memory": (),
    "pg_create": (
        Field("id", ID),
        Field("bundles", LIST, "[{resource: amount}], checked by placement.check_bundles"),
        Field("strategy", STR),
        Field("name", STR, required=False),
        Field("namespace", _optional(STR), required=False),
        Field("lifetime", _optional(STR), required=False),
        Field("job_id", _optional(STR), required=False),
    ),
    "pg_remove": (Field("id", ID),),
    "pg_table": (
        Field("id", ID, required=False),
        Field("name", STR, required=False),
        Field("namespace", _optional(STR), required=False),
    ),
    "stop": (),
    "package_has": (Field("uri", SHORT_STR, "gcs://_ray_pkg_<hash>.zip (runtime_env.py)"),),
    "package_put": (
        Field("uri", SHORT_STR),
        Field("offset", COUNT, "where this piece goes"),
        Field("size", COUNT, "the whole package's size"),
        Field("data", BYTES, "at most 16 MiB of it"),
    ),
    "package_get": (Field("uri", SHORT_STR), Field("offset", COUNT)),
}

# ---------------------------------------------------------------------------- handshake INFO

_COMMON_INFO = (
    Field("role", Type("str: driver, worker, node, observer, client", lambda v: v in ROLES)),
    Field("client_id", ID, "fresh per connection"),
    Field("pid", INT, required=False),
    Field("machine", SHORT_STR, "which machine (drivers use its node's store)", required=False),
    Field("version", INT, "PROTOCOL_VERSION (also checked in the handshake)", required=False),
)
INFO: dict[str, tuple[Field, ...]] = {
    "driver": (
        Field("sys_path", STRS, required=False),
        Field("cwd", _optional(STR), required=False),
        Field("namespace", _optional(STR), required=False),
        Field("env_vars", _optional(STR_DICT), required=False),
        Field("log_to_driver", BOOL, required=False),
    ),
    "worker": (Field("worker_id", ID),),
    "node": (
        Field("node_id", ID),
        Field("node_ip", SHORT_STR),
        Field("resources", RESOURCES),
        Field("gpu_ids", GPU_IDS, required=False),
        Field("shm_dir", SHORT_STR),
        Field("object_server", _optional(SHORT_STR), required=False),
    ),
    "observer": (
        Field("name", SHORT_STR, required=False),
        Field("command", SHORT_STR, required=False),
    ),
    "client": (),
}
ROLES: tuple[str, ...] = tuple(INFO)


def _dict_problem(what: str, value: Any, fields: tuple[Field, ...]) -> str | None:
    if type(value) is not dict:
        return f"{what} must be a dict"
    for f in fields:
        if f.name not in value:
            if f.required:
                return f"{what} lacks {f.name!r} ({f.type.name})"
            continue
        if not f.type.check(value[f.name]):
            return f"{what}: {f.name!r} must be {f.type.name}"
    return None


def info_problem(info: Any) -> str | None:
    """Why a handshake INFO is malformed, or None."""
    problem = _dict_problem("the handshake INFO", info, _COMMON_INFO)
    if problem is None:
        problem = _dict_problem(f"a {info['role']}'s INFO", info, INFO[info["role"]])
    return problem


def request_problem(what: Any, args: Any) -> str | None:
    """Why a request is malformed or unknown, or None."""
    fields = REQUESTS.get(what)
    if fields is None:
        return f"the head does not know the request {what!r} (version mismatch?)"
    return _dict_problem(f"request {what!r}: its args", args, fields)


# kind -> a check for each leading field (extra trailing fields are allowed: compatibility rule)
_CHECKS: dict[str, tuple[Callable[[Any], bool], ...]] = {
    m.kind: tuple(f.type.check for f in m.fields) for m in TO_HEAD
}


def message_problem(msg: Any) -> str | None:
    """Why `msg` (from a peer) is malformed, or None if the head may act on it."""
    if type(msg) is not tuple or not msg or type(msg[0]) is not str:
        return "a message must be a tuple starting with its kind"
    checks = _CHECKS.get(msg[0])
    if checks is None:
        return None  # unknown kinds are ignored by the dispatcher (compatibility rule)
    if len(msg) <= len(checks):
        return f"{msg[0]!r} needs {len(checks)} fields, got {len(msg) - 1}"
    i = 1
    for check in checks:
        if not check(msg[i]):
            return f"field {i} of {msg[0]!r} has the wrong type or value"
        i += 1
    if msg[0] == protocol.REQUEST:
        return request_problem(msg[2], msg[3])
    return None


# ---------------------------------------------------------------------------- the document


def _message_table(messages: tuple[Message, ...]) -> list[str]:
    out = ["| kind | sent by | fields | meaning |", "|---|---|---|---|"]
    for m in messages:
        fields = ", ".join(f"`{f.name}`: {f.type.name}" for f in m.fields) or "(none)"
        out.append(f"| `{m.kind}` | {m.senders} | {_cell(fields)} | {_cell(m.doc)} |")
    return out


def _field_table(fields: tuple[Field, ...]) -> list[str]:
    out = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for f in fields:
        out.append(
            f"| `{f.name}` | {_cell(f.type.name)} | {'yes' if f.required else 'no'} "
            f"| {_cell(f.doc)} |"
        )
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """The generated part of docs/protocol.md."""
    lines = ["### Handshake INFO (every role)", "", *_field_table(_COMMON_INFO), ""]
    for role, fields in INFO.items():
        if fields:
            lines += [f"### INFO of role `{role}`", "", *_field_table(fields), ""]
    lines += ["### Messages to the head", "", *_message_table(TO_HEAD), ""]
    lines += ["### Messages from the head", "", *_message_table(FROM_HEAD), ""]
    lines += ["### Requests (`request` `what`, and its `args`)", ""]
    lines += ["| what | args |", "|---|---|"]
    for what, fields in REQUESTS.items():
        args = ", ".join(
            f"`{f.name}`: {f.type.name}" + ("" if f.required else " (optional)") for f in fields
        )
        lines.append(f"| `{what}` | {_cell(args) or '(none)'} |")
    return "\n".join(lines) + "\n"


BEGIN = "<!-- generated from runtime/rayground/_core/schema.py: begin -->"
END = "<!-- generated from runtime/rayground/_core/schema.py: end -->"


def render_into(document: str) -> str:
    """`document` with the text between BEGIN and END replaced by `markdown()`."""
    head, sep, rest = document.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"the document has no {BEGIN} ... {END} block")
    return f"{head}{BEGIN}\n\n{markdown()}\n{END}{tail}"


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        with open(sys.argv[2]) as f:
            text = render_into(f.read())
        with open(sys.argv[2], "w") as f:
            f.write(text)
    else:
        print(markdown(), end="")
