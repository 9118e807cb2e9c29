"""Process-tree and shared-memory helpers for tests (Linux /proc; no psutil).

Used by ``tests/conftest.py``'s leak checks and usable from any test::

    from _procs import descendants, process_alive, shm_entries

On systems without ``/proc`` or ``/dev/shm`` the functions return empty results,
so the leak checks degrade to no-ops instead of failing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

PROC = Path("/proc")
SHM = Path("/dev/shm")

# Long-lived helper processes the standard library starts on demand and keeps for
# the life of the interpreter; they are not leaks of the code under test.
_STDLIB_HELPERS = (
    "from multiprocessing.resource_tracker import main",
    "from multiprocessing.forkserver import main",
    # joblib's copy of the resource tracker, started by its memory-mapping pools (Ray's joblib
    # backend builds one); it too lives as long as the interpreter.
    "from joblib.externals.loky.backend.resource_tracker import main",
)


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of ``pid`` from /proc/<pid>/stat, or None if it is gone."""
    try:
        data = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # Format: "pid (comm) state ppid ..."; comm may contain spaces and parens.
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode(), int(fields[1])
    except (IndexError, ValueError):
        return None


def _pids() -> list[int]:
    try:
        return [int(p) for p in os.listdir(PROC) if p.isdigit()]
    except OSError:
        return []


def parent_map() -> dict[int, int]:
    """{pid: ppid} for every live (non-zombie) process visible in /proc."""
    out = {}
    for pid in _pids():
        st = _stat(pid)
        if st is not None and st[0] not in ("Z", "X"):
            out[pid] = st[1]
    return out


def descendants(pid: int | None = None, parents: dict[int, int] | None = None) -> set[int]:
    """Live (non-zombie) descendants of ``pid`` (default: this process), excluding it."""
    root = os.getpid() if pid is None else pid
    parents = parent_map() if parents is None else parents
    children: dict[int, list[int]] = {}
    for p, pp in parents.items():
        children.setdefault(pp, []).append(p)
    found: set[int] = set()
    stack = [root]
    while stack:
        for c in children.get(stack.pop(), ()):
            if c not in found and c != root:
                found.add(c)
                stack.append(c)
    return found


def ancestors(pid: int, parents: dict[int, int] | None = None) -> list[int]:
    """Parent chain of ``pid`` (nearest first), ending at pid 1 or a vanished parent."""
    parents = parent_map() if parents is None else parents
    chain: list[int] = []
    seen = {pid}
    cur = parents.get(pid)
    while cur is not None and cur not in seen and cur > 0:
        chain.append(cur)
        seen.add(cur)
        cur = parents.get(cur)
    return chain


def process_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def cmdline(pid: int, limit: int = 200) -> str:
    """The command line of ``pid`` (shortened), or its comm, or '?' if unreadable."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    text = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    if not text:  # kernel threads, or a process that is exiting
        try:
            text = "[" + (PROC / str(pid) / "comm").read_text().strip() + "]"
        except OSError:
            text = "?"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_stdlib_helper(pid: int) -> bool:
    """True for multiprocessing's resource tracker / forkserver processes."""
    cmd = cmdline(pid, limit=10_000)
    return any(marker in cmd for marker in _STDLIB_HELPERS)


def processes_with_env(name: str, value: str) -> set[int]:
    """Pids (other than this one) started with environment variable ``name=value``.

    Catches processes that were orphaned (re-parented to init) or daemonized, which
    a parent-chain walk misses. Only processes that ``exec``-ed with the variable in
    their environment are visible; plain ``fork`` children are found by
    :func:`descendants` instead.
    """
    needle = f"{name}={value}".encode()
    me = os.getpid()
    found = set()
    for pid in _pids():
        if pid == me:
            continue
        try:
            env = (PROC / str(pid) / "environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0") and process_alive(pid):
            found.add(pid)
    return found


def shm_entries(prefix: str = "rayground") -> set[str]:
    """Names of entries in /dev/shm starting with ``prefix``."""
    try:
        return {n for n in os.listdir(SHM) if n.startswith(prefix)}
    except OSError:
        return set()


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL each pid, ignoring ones that are already gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def remove_shm(names: Iterable[str]) -> None:
    """Delete /dev/shm entries by name (directories recursively)."""
    for name in names:
        path = SHM / name
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            shutil.rmtree(path, ignore_errors=True)


def describe(pids: Iterable[int]) -> str:
    """One line per pid: pid, ppid and command line."""
    parents = parent_map()
    return "\n".join(
        f"  pid {pid} (ppid {parents.get(pid, '?')}): {cmdline(pid)}" for pid in sorted(pids)
    )


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str | Callable[[], str] = "condition not met",
) -> T:
    """Poll ``predicate`` until it returns something truthy; return that value.

    Raises AssertionError(message) if it is still falsy after ``timeout`` seconds
    (the predicate is always tried once more at the deadline). ``message`` may be
    a callable, evaluated only on failure. Exceptions from the predicate propagate.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            value = predicate()
            if value:
                return value
            text = message() if callable(message) else message
            raise AssertionError(
                f"{text} (still false after {timeout:g}s; last value: {_short(value)})"
            )
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
