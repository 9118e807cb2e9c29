"""The processes of a benchmark run: the runner as child subreaper, the tree of a workload, the CPU
that other processes take, and what a workload leaves behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time

import harness as H

# --------------------------------------------------------------------------------------------------
# Processes: the subreaper, the tree of a workload, the CPU that other processes take


def become_subreaper() -> bool:
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    return False


def reap_zombies() -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break


def cpu_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


class ForeignCPU:
    """Samples, once a second, the CPU time of every process that is not this one or one of its
    descendants. ``cores()`` is the average number of cores they kept busy."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.me = os.getpid()
        self.last: dict[int, int] = {}
        self.ours: set[int] = set()
        self.foreign_ticks = 0
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.top: dict[str, int] = {}

    def sample(self) -> None:
        table = H.proc_table()
        ours = H.descendants(self.me, table) | {self.me}
        self.ours |= ours
        for pid, info in table.items():
            ticks = cpu_ticks(pid)
            if ticks is None:
                continue
            prev = self.last.get(pid)
            self.last[pid] = ticks
            if pid in ours or prev is None:
                continue
            delta = ticks - prev
            if delta > 0:
                self.foreign_ticks += delta
                name = info["comm"]
                self.top[name] = self.top.get(name, 0) + delta

    def start(self) -> ForeignCPU:
        self.sample()
        self.t0 = time.monotonic()
        self.foreign_ticks = 0
        self.top = {}
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> dict:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        top = sorted(self.top.items(), key=lambda kv: -kv[1])[:3]
        return {
            "cores": self.foreign_ticks / self.HZ / elapsed,
            "cpu_s": self.foreign_ticks / self.HZ,
            "top": [f"{name} {ticks / self.HZ:.1f}s" for name, ticks in top],
        }


def wait_for_quiet(max_wait: float, threshold: float = 0.25) -> dict:
    """Wait until other processes use less than ``threshold`` cores over one second."""
    t0 = time.monotonic()
    while True:
        probe = ForeignCPU().start()
        time.sleep(1.0)
        load = probe.stop()
        waited = time.monotonic() - t0
        if load["cores"] < threshold or waited >= max_wait:
            return {"waited_s": waited, "cores_at_start": load["cores"], "top": load["top"]}


def kill_tree(pids: set[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in pids if os.path.exists(f"/proc/{p}")]
        for pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        if not alive:
            return
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in alive):
            reap_zombies()
            time.sleep(0.05)
    reap_zombies()


def leftovers(grace: float = 3.0) -> list[dict]:
    """Processes still running under this one after a workload's process exited."""
    deadline = time.monotonic() + grace
    while True:
        reap_zombies()
        table = H.proc_table()
        left = H.descendants(os.getpid(), table)
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    out = [
        {"pid": p, "comm": table[p]["comm"], "cmdline": table[p]["cmdline"][:160]}
        for p in sorted(left)
        if p in table
    ]
    if left:
        kill_tree(left)
    return out
