"""The wire protocol between drivers, workers, the CLI and the head (sans-IO: no sockets here).

Every process holds one stream connection to the head (transport.py frames it). Frames:

    HELLO   b"RGH1" u16 n, token, info  first frame on every connection; info is a pickled dict
                                        (role, pid, client id, ...). The token is checked with
                                        `hmac.compare_digest` *before* anything is unpickled; a
                                        peer that fails is dropped and logged in one line.
    BATCH   payload                     a pickled list of messages, each a tuple whose first
                                        item is the message kind (a short str below).

Payloads are pickled plain containers (tuple, list, dict, str, bytes, int, float, bool, None) and
unpickled with `loads`, which refuses every global: an envelope can never name a class or a
function, so a malicious frame cannot run code in the head. User data (functions, arguments,
results) travels as opaque `bytes` inside envelopes; only workers and drivers unpickle those, as in
Ray, because they trust the cluster they authenticated to.

Compatibility: receivers ignore message kinds they do not know and extra trailing tuple items, so
peers of a newer minor version can talk to older ones. `PROTOCOL_VERSION` in HELLO changes only
when that rule cannot hold.
"""

from __future__ import annotations

import hmac
import io
import pickle
from typing import Any

MAGIC_HELLO = b"RGH1"


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


def hello_frame(token: bytes, info: dict) -> bytes:
    """HELLO: b"RGH1" | u16 token length | token | pickled info dict."""
    return MAGIC_HELLO + len(token).to_bytes(2, "little") + token + dumps(info)


def check_hello(data: bytes, token: bytes) -> dict:
    """Validate a HELLO; returns its info dict or raises ProtocolError (constant-time check)."""
    if len(data) < 6 or data[:4] != MAGIC_HELLO:
        raise ProtocolError("first frame is not a HELLO")
    n = int.from_bytes(data[4:6], "little")
    given = data[6 : 6 + n]
    # Security: compare_digest so the check's timing does not leak how much of the token matched,
    # and nothing after the token is unpickled unless it matched.
    if not hmac.compare_digest(given, token):
        raise ProtocolError("wrong token")
    info = loads(data[6 + n :])
    if not isinstance(info, dict):
        raise ProtocolError("HELLO payload is not a dict")
    return info


# Message kinds. Client -> head unless noted. Fields follow the kind in each tuple; the producing
# function in client.py / worker.py documents them.
SUBMIT = "submit"  # (SUBMIT, spec dict)
PUT = "put"  # (PUT, oid, desc, contained_oids)
INCREF = "incref"  # (INCREF, [oids])
DECREF = "decref"  # (DECREF, [oids])
WANT = "want"  # (WANT, [oids], blocking: bool) -> head pushes OBJ for each when ready
UNBLOCKED = "unblocked"  # (UNBLOCKED,) worker resumed after a blocking WANT
RETURN = "return"  # (RETURN, [task ids]) worker -> head: queued tasks it gives back before blocking
DONE = "done"  # (DONE, task_id, [desc per return], [contained oids per return]) worker -> head
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
