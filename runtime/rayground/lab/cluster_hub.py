"""ClusterHub: the server extension's one object. It knows the clusters on this machine, runs a
ClusterFeed per cluster, and routes their messages to the browsers' WebSockets.

Once a second (on the server's IOLoop) it lists the sessions on this machine
(`lifetime.list_local_sessions()`), maps each notebook kernel to its cluster, starts feeds for new
clusters and drops those of ended ones, and sends the cluster list and the course state to every
browser when they changed. Each browser says what it wants to watch: the cluster of the kernel in
front of it (`kernel_id`) or one cluster it picked (`cluster`); the hub resolves that on every
poll, so when a notebook's cluster restarts (kernel restart, `%ray_init` with new arguments) the
browser is switched to the new one and gets a fresh snapshot.

A kernel's cluster is the one whose `owner_pid` is the kernel's pid (or a descendant of it, when
the kernel runs ray.init() in a child), or one where the kernel is a running driver (it joined
with `init(address="auto")`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterable
from typing import Any, Protocol

from tornado.ioloop import IOLoop, PeriodicCallback

from .._core import config, lifetime, resources
from .._core.lifetime import LocalHead, SessionInfo, pid_alive
from .curriculum import Curriculum
from .feed import ClusterFeed, session_id

POLL_INTERVAL_MS = 1000
MAX_CPUS = 1024


class Socket(Protocol):
    target: dict[str, str | None]
    watching: str | None

    def send(self, message: dict[str, Any]) -> None: ...


class ClusterError(Exception):
    """A start/stop request the hub cannot honour; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def ancestors(pid: int, limit: int = 64) -> list[int]:
    """pid's parent, grandparent, ... (Linux /proc; elsewhere just [])."""
    chain = []
    for _ in range(limit):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            break
        # The command name may hold spaces and parentheses: fields resume after the last ')'.
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        if ppid <= 1:
            break
        chain.append(ppid)
        pid = ppid
    return chain


def kernel_pids(kernel_manager: Any) -> dict[str, int]:
    """Kernel id -> pid of the kernel process, for the kernels this server runs locally."""
    pids = {}
    if kernel_manager is None:
        return pids
    for kernel_id in list(kernel_manager.list_kernel_ids()):
        try:
            kernel = kernel_manager.get_kernel(kernel_id)
        except KeyError:
            continue
        provisioner = getattr(kernel, "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        if pid is None:
            process = getattr(provisioner, "process", None)
            pid = getattr(process, "pid", None)
        if isinstance(pid, int):
            pids[kernel_id] = pid
    return pids


def kernels_of(
    owner_pid: int | None, driver_pids: Iterable[int], kernels: dict[str, int]
) -> list[str]:
    """The kernels (ids) that own or drive a cluster."""
    if not kernels:
        return []
    by_pid = {pid: kid for kid, pid in kernels.items()}
    found: list[str] = []
    for pid in [owner_pid, *driver_pids]:
        if pid is None:
            continue
        for candidate in [pid, *ancestors(pid)]:
            kid = by_pid.get(candidate)
            if kid is not None and kid not in found:
                found.append(kid)
                break
    return found


class ClusterHub:
    def __init__(self, root_dir: str, kernel_manager: Any, log: Any) -> None:
        self.kernel_manager = kernel_manager
        self.log = log
        self.feeds: dict[str, ClusterFeed] = {}
        self.sessions: dict[str, SessionInfo] = {}
        self.kernels: dict[str, list[str]] = {}
        self.sockets: set[Socket] = set()
        self.started: dict[str, LocalHead] = {}
        self.curriculum = Curriculum(root_dir)
        self.root_dir = root_dir
        self._clusters_msg: dict[str, Any] = {"type": "clusters", "clusters": []}
        self._clusters_text = ""
        self._curriculum_msg: dict[str, Any] | None = None
        self._curriculum_text = ""
        self._listed_with_status: set[str] = set()
        self._poller: PeriodicCallback | None = None
        self._polling = False
        self.loop: IOLoop | None = None

    # ------------------------------------------------------------------ life
    def start(self, loop: IOLoop | None = None) -> None:
        self.loop = loop or IOLoop.current()
        self._poller = PeriodicCallback(self.poll, POLL_INTERVAL_MS)
        self._poller.start()
        self.loop.add_callback(self.poll)

    def shutdown(self) -> None:
        """Stop following clusters, and stop the clusters this server started."""
        if self._poller is not None:
            self._poller.stop()
        feeds = list(self.feeds.values())
        self.feeds.clear()
        for feed in feeds:  # signal all first, then wait: shutdown costs one wait, not N
            feed.stop(timeout=0)
        deadline = time.monotonic() + 2.0
        for feed in feeds:
            feed.join(max(0.0, deadline - time.monotonic()))
        for head in list(self.started.values()):
            lifetime.stop_head(head.proc, head.shm_dir)
        self.started.clear()

    # ------------------------------------------------------------------ messages from feeds
    def publish(self, message: dict[str, Any]) -> None:
        """Called from feed threads: hand the message to the IOLoop."""
        loop = self.loop
        if loop is not None:
            loop.add_callback(self._deliver, message)

    def _deliver(self, message: dict[str, Any]) -> None:
        cluster = message.get("cluster")
        if message["type"] == "cluster_ended":
            feed = self.feeds.get(cluster) if cluster else None
            if feed is not None and feed.ended:
                self.feeds.pop(cluster, None)
            assert self.loop is not None
            self.loop.add_callback(self.poll)
            return
        if message["type"] == "status" and cluster not in self._listed_with_status:
            # First status of a new cluster: list it with its nodes now, not at the next poll.
            assert self.loop is not None
            self.loop.add_callback(self.poll)
        for sock in list(self.sockets):
            if sock.watching == cluster:
                sock.send(message)

    # ------------------------------------------------------------------ browsers
    def add_socket(self, sock: Socket) -> None:
        self.sockets.add(sock)
        sock.send(self._clusters_msg)
        if self._curriculum_msg is not None:
            sock.send(self._curriculum_msg)
        self._resolve(sock)

    def remove_socket(self, sock: Socket) -> None:
        self.sockets.discard(sock)
        self._update_watch_flags()

    def set_target(self, sock: Socket, kernel_id: str | None, cluster: str | None) -> None:
        sock.target = {"kernel_id": kernel_id, "cluster": cluster}
        self._resolve(sock, force=True)

    def _resolve(self, sock: Socket, force: bool = False) -> None:
        want = self.resolve(sock.target)
        if want == sock.watching and not force:
            return
        changed = want != sock.watching
        sock.watching = want
        sock.send(
            {
                "type": "watching",
                "cluster": want,
                "kernel_id": sock.target.get("kernel_id"),
                "reason": self._why(sock.target, want),
            }
        )
        self._update_watch_flags()
        feed = self.feeds.get(want) if want else None
        if feed is not None and not changed:
            feed.watch(True)  # same cluster asked again: a fresh snapshot

    def resolve(self, target: dict[str, str | None]) -> str | None:
        cluster = target.get("cluster")
        if cluster and cluster in self.sessions:
            return cluster
        kernel_id = target.get("kernel_id")
        if kernel_id:
            for cid in self.sessions:  # newest first
                if kernel_id in self.kernels.get(cid, ()):
                    return cid
        return None

    def _why(self, target: dict[str, str | None], want: str | None) -> str:
        if want is not None:
            if target.get("cluster") == want:
                return "picked"
            return "kernel"
        if target.get("cluster"):
            return "the cluster you picked has ended"
        if target.get("kernel_id"):
            return "this notebook's kernel has no cluster yet (run ray.init() or %ray_init)"
        return "no notebook in front and no cluster picked"

    def _update_watch_flags(self) -> None:
        watched = {s.watching for s in self.sockets if s.watching}
        for cid, feed in self.feeds.items():
            on = cid in watched
            if on != feed.watched:
                feed.watch(on)

    # ------------------------------------------------------------------ polling
    async def poll(self) -> None:
        if self._polling:
            return
        self._polling = True
        try:
            await self._poll()
        except Exception:
            self.log.exception("rayground: polling the clusters failed")
        finally:
            self._polling = False

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        sessions = await loop.run_in_executor(None, lifetime.list_local_sessions)
        self.sessions = {session_id(s): s for s in sessions}
        for cid, session in self.sessions.items():
            feed = self.feeds.get(cid)
            if feed is None or (feed.ended and pid_alive(session.pid)):
                feed = self.feeds[cid] = ClusterFeed(session, self.publish)
                feed.start()
        for cid in [c for c in self.feeds if c not in self.sessions]:
            feed = self.feeds.pop(cid)
            feed.stop(timeout=0)
        for cid in [c for c, h in self.started.items() if h.proc and h.proc.poll() is not None]:
            self.started.pop(cid, None)
        pids = kernel_pids(self.kernel_manager)
        self.kernels = {
            cid: kernels_of(s.owner_pid, self._driver_pids(cid), pids)
            for cid, s in self.sessions.items()
        }
        clusters = [self.info(cid) for cid in self.sessions]
        self._listed_with_status = {c["id"] for c in clusters if c["nodes"]}
        text = json.dumps(clusters, sort_keys=True, default=str)
        if text != self._clusters_text:
            self._clusters_text = text
            self._clusters_msg = {"type": "clusters", "clusters": clusters}
            self._broadcast(self._clusters_msg)
        course = await loop.run_in_executor(None, self.curriculum.state)
        text = json.dumps(course, sort_keys=True)
        if text != self._curriculum_text:
            self._curriculum_text = text
            self._curriculum_msg = {"type": "curriculum", **course}
            self._broadcast(self._curriculum_msg)
        for sock in list(self.sockets):
            self._resolve(sock)

    def _driver_pids(self, cid: str) -> list[int]:
        feed = self.feeds.get(cid)
        status = feed.status if feed is not None else None
        jobs = (status or {}).get("jobs") or ()
        return [int(j["pid"]) for j in jobs if j.get("status") == "RUNNING" and j.get("pid")]

    def _broadcast(self, message: dict[str, Any]) -> None:
        for sock in list(self.sockets):
            sock.send(message)

    def info(self, cid: str) -> dict[str, Any]:
        """One cluster as the panel's list shows it."""
        session = self.sessions[cid]
        feed = self.feeds.get(cid)
        status = (feed.status if feed is not None else None) or {}
        if session.owner_pid == os.getpid():
            kind = "server"  # started from the panel: lives as long as this Jupyter server
        elif session.owner_pid is None:
            kind = "standalone"  # `rayground start --head`
        else:
            kind = "driver"  # started by ray.init() in a kernel or a script
        jobs = status.get("jobs") or []
        return {
            "id": cid,
            "address": session.address,
            "tcp_address": session.tcp_address,
            "pid": session.pid,
            "owner_pid": session.owner_pid,
            "started": session.started,
            "kind": kind,
            "stoppable": kind in ("server", "standalone"),
            "kernel_ids": self.kernels.get(cid, []),
            "connected": bool(feed and feed.connected),
            "error": feed.error if feed is not None else None,
            "nodes": status.get("nodes") or [],
            "tasks": status.get("tasks") or {},
            "actors": status.get("actors") or {},
            "objects": status.get("objects", 0),
            "store_used": status.get("store_used", 0),
            "store_capacity": status.get("store_capacity", 0),
            "workers": status.get("workers", 0),
            "drivers": sum(1 for j in jobs if j.get("status") == "RUNNING"),
        }

    def clusters(self) -> list[dict[str, Any]]:
        return list(self._clusters_msg["clusters"])

    # ------------------------------------------------------------------ start / stop
    async def start_cluster(
        self, num_cpus: float | None = None, object_store_memory: int | None = None
    ) -> dict[str, Any]:
        if num_cpus is not None and (
            isinstance(num_cpus, bool)
            or not isinstance(num_cpus, int)
            or not 1 <= num_cpus <= MAX_CPUS
        ):
            raise ClusterError(
                400, f"num_cpus must be a whole number from 1 to {MAX_CPUS}; got {num_cpus!r}."
            )
        if object_store_memory is not None and (
            isinstance(object_store_memory, bool)
            or not isinstance(object_store_memory, int)
            or object_store_memory < 1 << 20
        ):
            raise ClusterError(
                400,
                "object_store_memory must be a whole number of bytes, at least 1 MiB; got "
                f"{object_store_memory!r}.",
            )
        loop = asyncio.get_running_loop()

        def start() -> LocalHead:
            gpus = resources.detect_gpus()
            return lifetime.start_head(
                num_cpus=float(num_cpus or os.cpu_count() or 1),
                num_gpus=float(gpus),
                gpu_ids=resources.gpu_device_names(gpus) if gpus else [],
                resources={},
                object_store_memory=int(
                    object_store_memory or config.default_object_store_memory()
                ),
                # The head watches this server's pid: it cannot outlive the server, even when the
                # server is killed (no orphan); kernels join it with init(address="auto").
                owner_pid=os.getpid(),
                cwd=self.root_dir,
            )

        try:
            head = await loop.run_in_executor(None, start)
        except RuntimeError as exc:
            raise ClusterError(500, str(exc)) from None
        cid = os.path.basename(head.session_dir)
        self.started[cid] = head
        await self.poll()
        deadline = time.monotonic() + 5
        while cid not in self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            await self.poll()
        if cid not in self.sessions:
            raise ClusterError(500, f"the cluster {cid} started but is not listed; see its logs")
        return self.info(cid)

    async def stop_cluster(self, cid: str, timeout: float = 10.0) -> None:
        session = self.sessions.get(cid)
        if session is None:
            await self.poll()
            session = self.sessions.get(cid)
        if session is None:
            raise ClusterError(404, f"no cluster {cid!r} on this machine (it may have ended)")
        info = self.info(cid)
        if not info["stoppable"]:
            raise ClusterError(
                409,
                f"cluster {cid} belongs to the process that started it (pid {session.owner_pid}"
                "): call ray.shutdown() there, or restart that notebook's kernel.",
            )
        loop = asyncio.get_running_loop()
        head = self.started.pop(cid, None)
        if head is not None:
            await loop.run_in_executor(None, lifetime.stop_head, head.proc, head.shm_dir)
        else:
            # A `rayground start` head, as `rayground stop` does it: SIGTERM makes the head stop
            # its workers and remove its shared memory; SIGKILL only if it does not exit.
            with contextlib.suppress(ProcessLookupError):
                os.kill(session.pid, signal.SIGTERM)
            if not await self._wait_gone(session.pid, timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(session.pid, signal.SIGKILL)
                if not await self._wait_gone(session.pid, 5.0):
                    raise ClusterError(500, f"the head (pid {session.pid}) did not stop")
                await loop.run_in_executor(None, lifetime.sweep_stale_sessions)
        await self.poll()

    @staticmethod
    async def _wait_gone(pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True
