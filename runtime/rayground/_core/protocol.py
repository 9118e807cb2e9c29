"""The wire protocol between drivers, workers, the CLI and the head (sans-IO: no sockets here).

Every process holds one stream connection to the head (transport.py frames it). A connection
opens with the handshake (handshake.py: both ends prove they hold the token without sending it,
and the peer's INFO dict says who it is); every frame after it is a BATCH: a pickled list of
messages, each a tuple whose first item is the message kind (a short str below). docs/protocol.md
is the full specification.

Payloads are pickled plain containers (tuple, list, dict, str, bytes, int, float, bool, None) and
unpickled with `loads`, which refuses every global: an envelope can never name a class or a
function, so a malicious frame cannot run code in the head. User data (functions, arguments,
results) travels as opaque `bytes` inside envelopes; only workers and drivers unpickle those, as in
Ray, because they trust the cluster they authenticated to.

Compatibility: receivers ignore message kinds they do not know and extra trailing tuple items, so
peers of a newer minor version can talk to older ones. `PROTOCOL_VERSION` (config.py, sent in the
handshake) changes only when that rule cannot hold; the handshake refuses a peer of another
version, naming both.
"""

from __future__ import annotations

import io
import pickle
from typing import Any


class ProtocolError(Exception):
    """A frame that is not well formed; the connection that sent it is dropped."""


class _EnvelopeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Security: envelopes carry plain data only. Refusing globals means an attacker's frame
        # can never import or call anything during unpickling.
        raise ProtocolError(f"envelope names a global ({module}.{name}); refused")


def dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=5)


def loads(data: bytes | memoryview) -> Any:
    try:
        return _EnvelopeUnpickler(io.BytesIO(data)).load()
    except ProtocolError:
        raise
    except Exception as exc:  # truncated or garbage frames raise many different errors
        raise ProtocolError(f"malformed envelope: {type(exc).__name__}: {exc}") from None


# Message kinds. Client -> head unless noted. Fields follow the kind in each tuple; the producing
# function in client.py / worker.py documents them.
SUBMIT = "submit"  # (SUBMIT, spec dict)
PUT = "put"  # (PUT, oid, desc, contained_oids)
INCREF = "incref"  # (INCREF, [oids])
DECREF = "decref"  # (DECREF, [oids])
WANT = "want"  # (WANT, [oids], blocking: bool) -> head pushes OBJ for each when ready
UNBLOCKED = "unblocked"  # (UNBLOCKED,) worker resumed after a blocking WANT
RETURN = "return"  # (RETURN, [task ids]) worker -> head: queued tasks it gives back before blocking
DONE = "done"  # (DONE, task_id, [desc per return], [contained oids per return], extra?)
#   worker -> head; an actor's creation adds {"direct": address} when it takes direct calls
FAILED = "failed"  # (FAILED, task_id, error_desc, retry_allowed: bool, traceback text)
GEN_ITEM = "gen_item"  # (GEN_ITEM, task_id, index, desc, contained) worker -> head
CANCEL = "cancel"  # (CANCEL, oid, force, recursive)
CREATE_ACTOR = "create_actor"  # (CREATE_ACTOR, spec dict)
KILL_ACTOR = "kill_actor"  # (KILL_ACTOR, actor_id, no_restart)
ACTOR_EXIT = "actor_exit"  # (ACTOR_EXIT, actor_id) worker -> head: exit_actor() called
REQUEST = "request"  # (REQUEST, req_id, what, args dict) -> head answers REPLY
LOG = "log"  # (LOG, job_id, [(prefix, stream, text, task_id)]) worker -> head -> driver
SUBSCRIBE = "subscribe"  # (SUBSCRIBE, after_seq) -> head pushes EVENTS
UNSUBSCRIBE = "unsubscribe"
GOODBYE = "goodbye"  # (GOODBYE,) a client leaving cleanly

# Head -> client
OBJ = "obj"  # (OBJ, oid, desc)
REPLY = "reply"  # (REPLY, req_id, ok: bool, value)
EXECUTE = "execute"  # (EXECUTE, spec dict, fn_blob or None, {arg position: desc})
EVENTS = "events"  # (EVENTS, first_seq, [event tuples], lost_count)
SHUTDOWN = "shutdown"  # (SHUTDOWN, reason)
CANCEL_TASK = "cancel_task"  # (CANCEL_TASK, task_id, force) head -> worker

# Between the head and a node process (node.py):
NODE_SPAWN = "node_spawn"  # head -> node: (NODE_SPAWN, worker_id, cwd) fork a worker
NODE_KILL = "node_kill"  # head -> node: (NODE_KILL, worker_id, signal)
NODE_FREE = "node_free"  # head -> node: (NODE_FREE, [segment names]) unlink these copies
WORKER_EXIT = "worker_exit"  # node -> head: (WORKER_EXIT, worker_id, exit code or None)
COPIED = "copied"  # client -> head: (COPIED, oid) this node now holds a copy of oid

# ---------------------------------------------------------------------------- validation
# The head checks the shape of every message from a peer before acting on it: a malformed message
# (wrong arity, wrong field types, a desc naming a path outside the session) is dropped with one
# log line, so nothing malformed is ever stored in the head's tables, where it could fail later
# far from its cause. The checks are type tests in plain loops: measured here, checking a submit
# costs about half as much as unpickling it.

_SEQ = (list, tuple)
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
    if value is None:
        return True
    if type(value) is not dict:
        return False
    for k, v in value.items():
        if type(k) is not str or type(v) not in (int, float) or not v >= 0:
            return False
    return True


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


def _str(v: Any) -> bool:
    return type(v) is str


def _any(v: Any) -> bool:
    return True


def _int(v: Any) -> bool:
    return type(v) is int


def _dict(v: Any) -> bool:
    return isinstance(v, dict)


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


def _submit(spec: Any) -> bool:
    return _is_spec(spec, "task_id") and "returns" in spec


def _actor_spec(spec: Any) -> bool:
    return _is_spec(spec, "actor_id")


# kind -> a check for each leading field (extra trailing fields are allowed: compatibility rule)
_FIELDS: dict[str, tuple] = {
    SUBMIT: (_submit,),
    PUT: (_str, is_desc, _is_ids),
    INCREF: (_is_ids,),
    DECREF: (_is_ids,),
    WANT: (_is_ids, _any),
    UNBLOCKED: (),
    RETURN: (_is_ids,),
    DONE: (_str, _descs, _ids_lists),
    FAILED: (_str, is_desc, _any, _any),
    GEN_ITEM: (_str, _int, is_desc, _is_ids),
    CANCEL: (_str, _any, _any),
    CREATE_ACTOR: (_actor_spec,),
    KILL_ACTOR: (_str, _any),
    ACTOR_EXIT: (_str,),
    REQUEST: (_any, _str, _dict),
    LOG: (_str, lambda v: isinstance(v, list)),
    SUBSCRIBE: (_int,),
    UNSUBSCRIBE: (),
    GOODBYE: (),
    WORKER_EXIT: (_str, _any),
    COPIED: (_str,),
}


def message_problem(msg: Any) -> str | None:
    """Why `msg` (from a peer) is malformed, or None if the head may act on it."""
    if type(msg) is not tuple or not msg or type(msg[0]) is not str:
        return "a message must be a tuple starting with its kind"
    checks = _FIELDS.get(msg[0])
    if checks is None:
        return None  # unknown kinds are ignored by the dispatcher (compatibility rule)
    if len(msg) <= len(checks):
        return f"{msg[0]!r} needs {len(checks)} fields, got {len(msg) - 1}"
    i = 1
    for check in checks:
        if not check(msg[i]):
            return f"field {i} of {msg[0]!r} has the wrong type or value"
        i += 1
    return None
