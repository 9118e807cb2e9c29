"""Worker processes of one node: start, hand out, reuse, detect death, stop.

Workers are started in their own session (a Jupyter stop button's SIGINT to the kernel's process
group never reaches them) and watch the head's pid, so they exit when the head does. The head
watches each worker through a pidfd, which becomes readable the moment the process exits: death is
noticed by the poll loop, not by a timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from . import config, ids


class WorkerProc:
    __slots__ = (
        "actor_id",
        "blocked",
        "fns",
        "id",
        "jobs",
        "log_path",
        "peer",
        "pid",
        "pidfd",
        "proc",
        "started",
        "state",
        "task",
    )

    def __init__(self, worker_id: str, proc: subprocess.Popen, log_path: str) -> None:
        self.id = worker_id
        self.proc = proc
        self.pid = proc.pid
        self.pidfd: int | None = os.pidfd_open(proc.pid) if hasattr(os, "pidfd_open") else None
        self.peer: Any = None  # set when both its channels said HELLO
        self.state = "starting"  # starting | idle | busy | actor | dead
        self.task: Any = None
        self.blocked = False
        self.fns: set[str] = set()
        self.jobs: set[str] = set()
        self.actor_id: str | None = None
        self.started = time.monotonic()
        self.log_path = log_path


class WorkerPool:
    def __init__(self, session: dict[str, Any], env_extra: dict[str, str]) -> None:
        self._session = session
        self._env = dict(os.environ)
        self._env.update(env_extra)
        self.workers: dict[str, WorkerProc] = {}
        self.by_pidfd: dict[int, WorkerProc] = {}
        self.idle: list[WorkerProc] = []
        self.on_spawn: Any = None  # the head registers the new worker's pidfd in its poll loop

    def spawn(self, cwd: str | None = None) -> WorkerProc:
        worker_id = ids.unique("w")
        log_path = os.path.join(self._session["session_dir"], "logs", f"worker-{worker_id}.log")
        env = dict(self._env)
        env["RAYGROUND_WORKER_ID"] = worker_id
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "rayground._core.worker"],
                env=env,
                cwd=cwd or self._session.get("cwd") or None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        worker = WorkerProc(worker_id, proc, log_path)
        self.workers[worker_id] = worker
        if worker.pidfd is not None:
            self.by_pidfd[worker.pidfd] = worker
        if self.on_spawn is not None:
            self.on_spawn(worker)
        return worker

    def take_idle(self) -> WorkerProc | None:
        return self.idle.pop() if self.idle else None

    def make_idle(self, worker: WorkerProc) -> None:
        worker.state = "idle"
        worker.task = None
        worker.blocked = False
        self.idle.append(worker)

    def count(self, state: str) -> int:
        return sum(1 for w in self.workers.values() if w.state == state)

    def forget(self, worker: WorkerProc) -> None:
        worker.state = "dead"
        self.workers.pop(worker.id, None)
        if worker.pidfd is not None:
            self.by_pidfd.pop(worker.pidfd, None)
            try:
                os.close(worker.pidfd)
            except OSError:
                pass
            worker.pidfd = None
        if worker in self.idle:
            self.idle.remove(worker)
        try:
            worker.proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass

    def kill(self, worker: WorkerProc, sig: int = signal.SIGKILL) -> None:
        try:
            os.kill(worker.pid, sig)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        procs = [w.proc for w in self.workers.values()]
        for p in procs:
            try:
                p.terminate()
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + config.SHUTDOWN_GRACE
        for p in procs:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        for w in list(self.workers.values()):
            self.forget(w)


def encode_sys_path(paths: list[str]) -> str:
    return json.dumps(paths)
