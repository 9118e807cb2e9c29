"""Worker processes of one node: start, hand out, reuse, detect death, stop.

Workers are forked from the head. The head is single-threaded and has already imported what a
worker needs, so a fork is ready in milliseconds instead of the ~0.3 s a fresh interpreter takes
to import cloudpickle and the runtime, and its pages stay shared with the head until written,
which keeps the cluster's memory small. The child closes every inherited descriptor at once, so
it holds none of the head's connections (a driver's exit must still reach the head as
end-of-stream) and then runs `worker.main()`.

A worker exits when its connection to the head ends (head gone); the head watches each worker
through a pidfd, which becomes readable the moment the process exits, in the same poll loop as
its messages.
"""

from __future__ import annotations

import collections
import gc
import os
import signal
import sys
import time
from typing import Any

from . import config, ids, protocol

DEFAULT_GC_THRESHOLDS = gc.get_threshold()  # read before the head changes its own


class WorkerProc:
    __slots__ = (
        "actor_id",
        "blocked",
        "direct_address",
        "env_key",
        "event_info",
        "exit_code",
        "fns",
        "id",
        "jobs",
        "log_path",
        "node",
        "peer",
        "pid",
        "pidfd",
        "queued",
        "started",
        "state",
        "task",
    )

    def __init__(self, worker_id: str, pid: int, log_path: str) -> None:
        self.id = worker_id
        self.pid = pid
        # The `extra` of its tasks' SUBMITTED/RUNNING events: one shared dict (never changed),
        # not two new ones per task in the event ring.
        self.event_info: dict[str, Any] = {"worker_id": worker_id, "pid": pid}
        self.pidfd: int | None = os.pidfd_open(pid) if pid and hasattr(os, "pidfd_open") else None
        self.node: Any = None  # the Node it runs on (nodes.py)
        self.peer: Any = None  # set when its HELLO arrived
        self.state = "starting"  # starting | idle | busy | actor | dead
        self.task: Any = None
        self.queued: collections.deque = collections.deque()  # behind `task` (TaskTable._prefetch)
        self.blocked = False
        self.fns: set[str] = set()
        self.jobs: set[str | None] = set()  # a spec's job_id is optional
        self.actor_id: str | None = None
        self.started = time.monotonic()
        self.log_path = log_path
        self.exit_code: int | None = None
        self.direct_address: str | None = None  # an actor's socket for direct calls
        # The runtime_env files (working_dir, py_modules) it has entered, None while it ran
        # nothing: it serves only tasks with the same ones (runtime_env.worker_key), as Ray
        # keys its workers by runtime env.
        self.env_key: str | None = None

    def reap(self, timeout: float = 0.0) -> int | None:
        """Collect the exit status (None while it runs); signals come back negative."""
        if self.exit_code is not None:
            return self.exit_code
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.exit_code
            if pid:
                self.exit_code = os.waitstatus_to_exitcode(status)
                return self.exit_code
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)


class WorkerPool:
    def __init__(self, session: dict[str, Any], env_extra: dict[str, str]) -> None:
        self._session = session
        self._env = dict(env_extra)
        self.workers: dict[str, WorkerProc] = {}
        self.idle: list[WorkerProc] = []
        self.on_spawn: Any = None  # the head registers the new worker's pidfd in its poll loop
        self.node: Any = None

    def spawn(self, cwd: str | None = None, worker_id: str | None = None) -> WorkerProc:
        worker_id = worker_id or ids.unique("w")
        log_path = os.path.join(self._session["session_dir"], "logs", f"worker-{worker_id}.log")
        env = dict(self._env)
        env["RAYGROUND_WORKER_ID"] = worker_id
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the head's code
            _become_worker(log_path, env, cwd or self._session.get("cwd"))
        worker = WorkerProc(worker_id, pid, log_path)
        worker.node = self.node
        self.workers[worker_id] = worker
        if self.on_spawn is not None:
            self.on_spawn(worker)
        return worker

    def take_idle(self, env_key: str = "") -> WorkerProc | None:
        """An idle worker for a task whose runtime_env files are `env_key` (bound to it now)."""
        idle = self.idle
        for fits in (env_key, None):  # a worker already bound to it, else one still unbound
            for i in range(len(idle) - 1, -1, -1):
                worker = idle[i]
                if worker.env_key == fits:
                    del idle[i]
                    worker.env_key = env_key
                    return worker
        return None

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
            try:
                os.close(worker.pidfd)
            except OSError:
                pass
            worker.pidfd = None
        if worker in self.idle:
            self.idle.remove(worker)
        worker.reap(timeout=0.5)

    def kill(self, worker: WorkerProc, sig: int = signal.SIGKILL) -> None:
        try:
            os.kill(worker.pid, sig)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        workers = list(self.workers.values())
        for w in workers:
            self.kill(w, signal.SIGTERM)
        deadline = time.monotonic() + config.SHUTDOWN_GRACE
        for w in workers:
            if w.reap(timeout=max(0.0, deadline - time.monotonic())) is None:
                self.kill(w, signal.SIGKILL)
                w.reap(timeout=5)
        for w in workers:
            self.forget(w)


class RemoteWorker(WorkerProc):
    """A worker on another node: its node process forked it and reports its exit."""

    __slots__ = ()

    def reap(self, timeout: float = 0.0) -> int | None:
        return self.exit_code


class RemoteWorkerPool(WorkerPool):
    """The head's view of another node's workers; `send` reaches that node's process."""

    def __init__(self, send: Any) -> None:
        super().__init__({}, {})
        self._send_to_node = send

    def spawn(self, cwd: str | None = None, worker_id: str | None = None) -> WorkerProc:
        worker = RemoteWorker(worker_id or ids.unique("w"), 0, "")
        worker.node = self.node
        self.workers[worker.id] = worker
        self._send_to_node((protocol.NODE_SPAWN, worker.id, cwd))
        return worker

    def kill(self, worker: WorkerProc, sig: int = signal.SIGKILL) -> None:
        if worker.state != "dead":
            self._send_to_node((protocol.NODE_KILL, worker.id, int(sig)))

    def stop_all(self) -> None:
        # The node process stops its own workers when it is told to shut down or loses us.
        for worker in list(self.workers.values()):
            self.forget(worker)


def _become_worker(log_path: str, env: dict[str, str], cwd: str | None) -> None:
    code = 1
    try:
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        # Drop every descriptor inherited from the head: its listeners, its clients' connections,
        # its epoll and pidfds. Holding a driver's socket here would hide that driver's exit.
        os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        os.environ.update(env)
        # Everything this process inherited from the head (its task, object and event tables:
        # hundreds of MB in a big session) is shared with the head until written. A collection
        # would write every tracked object's header and so copy all of it into each worker
        # (measured: 95 MB private per actor forked from a 284 MB head; 1,000 actors ran out of
        # memory). Frozen, the collector never looks at them.
        gc.freeze()
        # The user's code runs here: the cycle collector as Python sets it up (not the head's).
        gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
        if cwd:
            try:
                os.chdir(cwd)
            except OSError:
                pass
        from .worker import main

        main()
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)
