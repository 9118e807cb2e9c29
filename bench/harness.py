"""What every workload process shares: the backend it imports, how it starts a cluster, sizes for
--quick, statistics of samples, and the processes and memory of a cluster (Linux /proc).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import statistics
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNTIME = REPO / "runtime"

QUICK = "--quick" in sys.argv
MB = 10**6  # sizes and bandwidths are decimal: 1 MB = 10**6 bytes, 1 GB = 10**9 bytes
GB = 10**9


def sizes(full, quick):
    return quick if QUICK else full


# --------------------------------------------------------------------------------------------------
# Backends


def load_backend(name: str):
    """Import the backend. rayground is taken from this checkout's runtime/ (and its workers find it
    there too, through PYTHONPATH), so the working tree is what gets measured."""
    if name == "rayground":
        sys.path.insert(0, str(RUNTIME))
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(RUNTIME) + (os.pathsep + old if old else "")
    return importlib.import_module(name)


def init_kwargs(backend: str, **extra) -> dict:
    """The arguments every workload passes to ``init``. Ray's dashboard is turned off: it is an
    optional web UI that rayground does not start. Everything else is left at its default."""
    kwargs: dict = {"num_cpus": 2}
    if backend == "ray":
        kwargs["include_dashboard"] = False
    kwargs.update(extra)
    return kwargs


def start(ray, backend: str, **extra) -> None:
    ray.init(**init_kwargs(backend, **extra))


def stop(ray) -> None:
    with contextlib.suppress(Exception):
        ray.shutdown()


# --------------------------------------------------------------------------------------------------
# Statistics


def summary(samples: list[float], unit: str, higher_is_better: bool, **info) -> dict:
    best = max(samples) if higher_is_better else min(samples)
    out = {
        "median": statistics.median(samples),
        "best": best,
        "samples": samples,
        "unit": unit,
        "higher_is_better": higher_is_better,
    }
    out.update(info)
    return out


def rate(n: int, seconds: float) -> float:
    return n / seconds


class Metrics(dict):
    """Collects metrics; a measurement that raises is recorded as an error under its own name."""

    def measure(self, name: str, fn: Callable[[], dict]) -> None:
        try:
            self[name] = fn()
        except Exception as exc:
            self[name] = {"error": last_line(exc), "traceback": traceback.format_exc()}


def last_line(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()
    return text[-1] if text else type(exc).__name__


# --------------------------------------------------------------------------------------------------
# Process discovery and memory (Linux /proc)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def proc_table() -> dict[int, dict]:
    """pid -> {ppid, cmdline, comm} for every process we can see."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read(f"/proc/{entry}/stat")
        if stat is None:
            continue
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        cmd = (_read(f"/proc/{entry}/cmdline") or "").replace("\0", " ").strip()
        table[int(entry)] = {"ppid": ppid, "cmdline": cmd, "comm": comm}
    return table


def descendants(root: int, table: dict[int, dict]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, info in table.items():
        children.setdefault(info["ppid"], []).append(pid)
    out: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def memory_kb(pid: int) -> dict[str, int] | None:
    """Pss and Rss in kB from /proc/PID/smaps_rollup (None if the process is gone)."""
    text = _read(f"/proc/{pid}/smaps_rollup")
    if text is None:
        return None
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("Pss", "Rss", "Pss_Shmem", "Pss_Anon", "Pss_File"):
            out[key] = int(rest.split()[0])
    return out if "Pss" in out else None


def session_dir(ray) -> str | None:
    """Ray's session directory, which every one of its daemons names on its command line."""
    with contextlib.suppress(Exception):
        return ray._private.worker.global_worker.node.get_session_dir_path()
    return None


def cluster_processes(ray, backend: str, before: set[int]) -> tuple[set[int], dict[int, str]]:
    """The processes that make up the cluster, with the reason each was counted.

    1. every descendant of this (driver) process: Ray 2.x starts gcs_server, raylet and its helper
       daemons as children of the driver, and the raylet forks the workers;
    2. processes that name the backend's session directory on their command line (a daemon that
       detached from the driver still names it), and their descendants;
    3. processes that appeared after ``before`` was taken, were re-parented to init or to a
       subreaper above the driver (daemonized) and mention the backend's name, and their
       descendants.
    """
    me = os.getpid()
    table = proc_table()
    # where an orphan lands: init, or a child subreaper among our ancestors (bench/run.py is one)
    ancestors = {1}
    pid = me
    while pid in table and pid > 1:
        pid = table[pid]["ppid"]
        ancestors.add(pid)
    found: dict[int, str] = dict.fromkeys(descendants(me, table), "descendant of the driver")
    sdir = session_dir(ray)
    for pid, info in table.items():
        if pid == me or pid in found:
            continue
        why = None
        if sdir and sdir in info["cmdline"]:
            why = "names the session directory"
        elif pid not in before and info["ppid"] in ancestors and backend in info["cmdline"]:
            why = "daemon started during the run"
        if why:
            found[pid] = why
            for d in descendants(pid, table):
                found.setdefault(d, f"descendant of {pid} ({why})")
    return set(found), found


def shm_used() -> int | None:
    with contextlib.suppress(OSError):
        st = os.statvfs("/dev/shm")
        return (st.f_blocks - st.f_bfree) * st.f_frsize
    return None
