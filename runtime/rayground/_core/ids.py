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


class TaskID(str):
    """What `ObjectRef.task_id()` returns: Ray's TaskID surface (`hex()`, `binary()`) on the id
    string, so code written for Ray (`ref.task_id().hex()`) runs unchanged."""

    __slots__ = ()

    def hex(self) -> str:
        return str(self)

    def binary(self) -> bytes:
        return str(self).encode()

    def __repr__(self) -> str:
        return f"TaskID({self!s})"


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
