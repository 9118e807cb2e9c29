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


# Message kinds. Client -> head unless noted. Fields follow the kind in each tuple; schema.py
# declares each one's fields and types (and who may send it), and the head checks them there.
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
# (KILL_WORKER,) head -> an actor's worker that takes direct calls: send the reports you hold,
# then die (the head SIGKILLs it after a grace if it cannot; actor_manager.py, `_stop_worker`)
KILL_WORKER = "kill_worker"

# Between the head and a node process (node.py):
NODE_SPAWN = "node_spawn"  # head -> node: (NODE_SPAWN, worker_id, cwd) fork a worker
NODE_KILL = "node_kill"  # head -> node: (NODE_KILL, worker_id, signal)
NODE_FREE = "node_free"  # head -> node: (NODE_FREE, [segment names]) unlink these copies
WORKER_EXIT = "worker_exit"  # node -> head: (WORKER_EXIT, worker_id, exit code or None)
COPIED = "copied"  # client -> head: (COPIED, oid) this node now holds a copy of oid
