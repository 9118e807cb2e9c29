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


def to_hex(internal: str) -> str:
    """The hex form users see (`ObjectRef.hex()`, `get_task_id()`, the state API): the id's
    bytes in hex. Ids stay short strings on the wire and are converted only at the API edge."""
    return internal.encode().hex()


def from_hex(text: str, what: str = "id") -> str:
    """The id behind a hex form made by `to_hex`."""
    try:
        return bytes.fromhex(text).decode("ascii")
    except (TypeError, ValueError):
        raise ValueError(
            f"{text!r} is not the hex form of a rayground {what}: pass what .hex() gave you"
        ) from None


class BaseID:
    """Ray's ID surface (`hex()`, `binary()`, `from_hex`, `from_binary`, repr `TaskID(<hex>)`)
    over one of our id strings, so code written for Ray (`ref.task_id().hex()`) runs unchanged."""

    __slots__ = ("_id",)
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
        return cls(data.hex() if cls._hex_already else data.decode("ascii"))

    def hex(self) -> str:
        return self._id if self._hex_already else to_hex(self._id)

    def binary(self) -> bytes:
        return bytes.fromhex(self._id) if self._hex_already else self._id.encode()

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


class ActorID(BaseID):
    __slots__ = ()


class WorkerID(BaseID):
    __slots__ = ()


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
