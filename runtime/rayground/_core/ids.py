"""Identifiers. Cheap to make: a random per-process prefix plus a counter, as hex strings.

Object ids of task returns are derived from the task id (`<task>.<index>`), so a task's outputs can
be named before the task runs and rebuilt from lineage under the same names.
"""

from __future__ import annotations

import itertools
import os
import threading

_lock = threading.Lock()
_prefix = ""
_counter = itertools.count(1)
_pid = -1


def _refresh() -> None:
    global _prefix, _counter, _pid
    _prefix = os.urandom(5).hex()
    _counter = itertools.count(1)
    _pid = os.getpid()


def unique(kind: str) -> str:
    """A new id such as `t3fa9c1d2e0-1f`; the letter says what it names (t task, o object, ...)."""
    if _pid != os.getpid():  # forked children must not repeat the parent's ids
        with _lock:
            if _pid != os.getpid():
                _refresh()
    return f"{kind}{_prefix}-{next(_counter):x}"


# Ray's id sizes in bytes. `binary()`/`hex()` pad our shorter ids to them with NUL bytes (which
# our ids never contain, so the padding comes off unambiguously): tools that check an id's length
# or slice it as Ray's keep working, while ids stay short strings on the wire.
OBJECT_ID_SIZE = 28
TASK_ID_SIZE = 24
ACTOR_ID_SIZE = 16
WORKER_ID_SIZE = 28
_SIZE_BY_KIND = {"t": TASK_ID_SIZE, "a": ACTOR_ID_SIZE, "w": WORKER_ID_SIZE, "c": WORKER_ID_SIZE}


def ray_size(internal: str) -> int:
    """The size of Ray's id of the same kind (0: none), from the id's form (see `unique`)."""
    if "." in internal or internal.startswith("o"):
        return OBJECT_ID_SIZE  # a task's return `<task>.<i>`, a put, an actor handle's ref
    if "-init" in internal:
        return TASK_ID_SIZE  # an actor's creation task, `<actor>-init<n>`
    return _SIZE_BY_KIND.get(internal[:1], 0)


def to_binary(internal: str, size: int | None = None) -> bytes:
    """The id's bytes as Ray's `binary()` would size them (`size`: that of the kind given)."""
    raw = internal.encode()
    return raw + b"\0" * ((ray_size(internal) if size is None else size) - len(raw))


def from_binary(data: bytes) -> str:
    """The id behind `to_binary`'s bytes (UnicodeDecodeError if they are not ours)."""
    return bytes(data).rstrip(b"\0").decode("ascii")


def to_hex(internal: str, size: int | None = None) -> str:
    """The hex form users see (`ObjectRef.hex()`, `get_task_id()`, the state API): the id's
    bytes in hex. Ids stay short strings on the wire and are converted only at the API edge."""
    return to_binary(internal, size).hex()


def from_hex(text: str, what: str = "id") -> str:
    """The id behind a hex form made by `to_hex`."""
    try:
        return from_binary(bytes.fromhex(text))
    except (TypeError, ValueError):
        raise ValueError(
            f"{text!r} is not the hex form of a rayground {what}: pass what .hex() gave you"
        ) from None


class BaseID:
    """Ray's ID surface (`hex()`, `binary()`, `from_hex`, `from_binary`, repr `TaskID(<hex>)`)
    over one of our id strings, so code written for Ray (`ref.task_id().hex()`) runs unchanged."""

    __slots__ = ("_id",)
    _size: int | None = None  # Ray's size of this kind of id (None: from the id's form)
    _hex_already = False  # job and node ids are hex strings already: shown as they are

    def __init__(self, internal: str) -> None:
        self._id = internal

    @classmethod
    def from_hex(cls, text: str) -> BaseID:
        if cls._hex_already:
            bytes.fromhex(text)  # the same ValueError as Ray's for text that is not hex
            return cls(text)
        return cls(from_hex(text, cls.__name__))

    @classmethod
    def from_binary(cls, data: bytes) -> BaseID:
        return cls(data.hex() if cls._hex_already else from_binary(data))

    def hex(self) -> str:
        return self._id if self._hex_already else to_hex(self._id, self._size)

    def binary(self) -> bytes:
        return bytes.fromhex(self._id) if self._hex_already else to_binary(self._id, self._size)

    def __str__(self) -> str:
        return self.hex()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.hex()})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._id == self._id  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._id))

    def __reduce__(self) -> tuple:
        return (type(self), (self._id,))


class TaskID(BaseID):
    __slots__ = ()
    _size = TASK_ID_SIZE


class ActorID(BaseID):
    __slots__ = ()
    _size = ACTOR_ID_SIZE


class WorkerID(BaseID):
    __slots__ = ()
    _size = WORKER_ID_SIZE


class JobID(BaseID):
    __slots__ = ()
    _hex_already = True


class NodeID(BaseID):
    __slots__ = ()
    _hex_already = True


def return_id(task_id: str, index: int) -> str:
    return f"{task_id}.{index}"


def random_hex(nbytes: int = 16) -> str:
    return os.urandom(nbytes).hex()


def machine_id() -> str:
    """Which machine (kernel boot) this process runs on: processes with the same one share
    /dev/shm. RAYGROUND_MACHINE_ID overrides it (tests pretend to be another machine)."""
    override = os.environ.get("RAYGROUND_MACHINE_ID")
    if override:
        return override
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return os.uname().nodename
