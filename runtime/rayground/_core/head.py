"""The head process: one per cluster. Scheduler, object directory, actor registry, event stream.

    driver/worker/CLI --frames--> Conn --> Head._dispatch --> task table, objects, actors
                                                   |
                                  Head._schedule() | picks (task, idle worker) pairs
                                                   v
    worker <--EXECUTE-- outbox (one frame per peer per loop turn) --OBJ/REPLY/LOG--> clients

Single-threaded: one epoll loop owns every table, so no locks; pidfds of workers and of the
owning driver sit in the same poll, so deaths are handled in order with messages. Outgoing
messages are collected per peer during a loop turn and sent as one frame each, which is what keeps
thousands of tiny tasks per second cheap.

Started by `init()` (then it exits with the driver that started it: `--owner-pid`) or by
`rayground start --head` (then it runs until `rayground stop`). The head never unpickles user
data: it forwards bytes.
"""

from __future__ import annotations

import argparse
import collections
import errno
import gc
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from typing import Any, ClassVar

from .. import exceptions
from . import config, ids, lifetime, ownership, protocol, schema, tls
from .actor_manager import ActorManager
from .events import EventLog
from .handshake import HandshakeError, ServerHandshake, check_first_frame_header
from .log_limit import LineLimiter
from .nodes import DEATH_EXPECTED_TERMINATION, DEATH_UNEXPECTED_TERMINATION, Node, Nodes
from .object_directory import ObjectDirectory, remove_tree
from .object_transfer import ObjectServer
from .placement_groups import HeadPlacement
from .resources import NodeResources, total_memory
from .runtime_env import PackageStore
from .serialization import serialize
from .task_table import TaskTable
from .transport import (
    FrameError,
    frame,
    listen,
    parse_address,
    raise_fd_limit,
    read_token_file,
    receive_buffer,
    receive_into,
    split_frames,
)
from .worker_pool import RemoteWorkerPool, WorkerPool, WorkerProc


class Conn:
    """One accepted connection: non-blocking, with read and write buffers."""

    __slots__ = ("hs", "peer", "rbuf", "sock", "waiting", "wbuf")

    def __init__(self, sock: socket.socket, token: bytes, where: str | None) -> None:
        self.sock = sock
        self.rbuf = bytearray()
        self.wbuf = bytearray()
        self.hs: ServerHandshake | None = ServerHandshake(token)  # None once it is over
        # The peer host it counts against until authenticated (None: a Unix-socket peer).
        self.waiting: str | None = where
        self.peer: Peer | None = None  # set once the handshake and its INFO checked out


class Peer:
    __slots__ = ("client_id", "conn", "home", "info", "job_id", "node", "pid", "role", "worker")

    def __init__(self, client_id: str, info: dict[str, Any], conn: Conn) -> None:
        self.client_id = client_id
        self.info = info
        self.role = info.get("role", "client")
        self.pid = info.get("pid")
        self.job_id: str | None = None
        self.node: Node | None = None  # for a node process's connection
        self.home: Node | None = None  # the node whose store a driver uses (its machine's)
        self.conn = conn
        self.worker: WorkerProc | None = None


def error_desc(exc: BaseException) -> tuple:
    return ("e", serialize(exc).to_bytes())


class Head:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.session_dir = args.session_dir
        self.token = read_token_file(os.path.join(self.session_dir, "token"))
        self.node_id = ids.random_hex(28)  # Ray's NodeID size
        self.node_ip = args.node_ip_address
        self._unauthenticated: collections.deque[tuple[float, Conn]] = collections.deque()
        self._waiting: collections.Counter[str] = collections.Counter()  # per peer host
        self._waiting_total = 0
        self._accept_paused_until = 0.0  # out of descriptors: listeners rest until then
        self._log = LineLimiter()
        self.sel = selectors.DefaultSelector()
        self.endpoints: list[str] = []
        wanted = [f"ipc://{os.path.join(self.session_dir, 'head.sock')}"]
        if args.port is not None:
            wanted.append(f"tcp://{self.node_ip}:{args.port}")
        self.listeners = []
        # --tls: TCP peers reach the head's Unix socket through TLS (tls.py).
        self.tls_cert = tls.session_certificate(self.session_dir, self.token)
        self.tls_listeners: list[tls.TlsListener] = []
        for address in wanted:
            sock, bound = listen(address)
            self.endpoints.append(bound)
            if self.tls_cert is not None and bound.startswith("tcp://"):
                inner = parse_address(self.endpoints[0])[1]
                assert isinstance(inner, str)
                self.tls_listeners.append(tls.TlsListener(sock, inner, self.tls_cert))
                continue
            self.listeners.append(sock)
            self.sel.register(sock, selectors.EVENT_READ, "listener")
        self.shm_dir = args.shm_dir
        # Made owner-only and exclusively by the launcher before our command line named it in
        # public; never created here (a directory someone else made first would be adopted).
        ownership.check_private_dir(self.shm_dir, "the shared-memory directory")
        os.makedirs(os.path.join(self.session_dir, "logs"), exist_ok=True)
        self.events = EventLog(config.EVENT_BUFFER)
        schema.allow_files_in(os.path.join(self.session_dir, "spill"))
        self.objects = ObjectDirectory(
            self.shm_dir,
            os.path.join(self.session_dir, "spill"),
            args.object_store_memory,
            self._push_obj,
            self.events.emit,
        )
        total = {"CPU": float(args.num_cpus), "memory": float(total_memory())}
        if args.num_gpus:
            total["GPU"] = float(args.num_gpus)
        total["object_store_memory"] = float(args.object_store_memory)
        total[f"node:{self.node_ip}"] = 1.0
        total["node:__internal_head__"] = 1.0
        total.update(json.loads(args.resources or "{}"))
        head_resources = NodeResources(total, [str(g) for g in json.loads(args.gpu_ids or "[]")])
        self.peers: dict[str, Peer] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.fn_blobs: dict[str, bytes] = {}
        self.packages = PackageStore()  # runtime_env working_dir / py_modules, by content
        self.outbox: dict[Peer, list] = collections.defaultdict(list)
        # Messages that may leave only once a worker has been sent what is queued for it
        # (direct_calls.py: `actor_at` follows the calls it reports): (peer, msg, worker conn).
        self.notices: list[tuple[Peer, tuple, Conn]] = []
        self.subscribers: dict[str, int] = {}
        self.session_info = {
            "session_dir": self.session_dir,
            "shm_dir": self.shm_dir,
            "node_id": self.node_id,
            "node_ip": self.node_ip,
            "head_pid": os.getpid(),
            "inline_max": config.INLINE_MAX,
            "local": True,
            "addresses": self.endpoints,
        }
        sys_path = json.loads(args.sys_path or "[]")
        self.pool = WorkerPool(
            {"session_dir": self.session_dir, "cwd": args.cwd},
            {
                "RAYGROUND_ADDRESS": self.endpoints[0],
                "RAYGROUND_TOKEN_FILE": os.path.join(self.session_dir, "token"),
                "RAYGROUND_HEAD_PID": str(os.getpid()),
                "RAYGROUND_SYS_PATH": json.dumps(sys_path),
            },
        )
        self.pool.on_spawn = self._watch
        # Other nodes pull this node's objects from here; only a cluster reachable over TCP
        # (started with a port) can have other nodes.
        self.object_server = (
            ObjectServer(
                self.node_ip,
                self.token,
                [self.shm_dir, os.path.join(self.session_dir, "spill")],
                self.tls_cert,
            )
            if args.port is not None
            else None
        )
        head_node = Node(
            self.node_id,
            self.node_ip,
            head_resources,
            self.pool,
            self.shm_dir,
            self.object_server.address if self.object_server else None,
            is_head=True,
        )
        self.pool.node = head_node
        head_node.machine = ids.machine_id()
        self.nodes = Nodes(head_node)
        self.objects.local_node_id = self.node_id
        self.objects.on_remote_discard = self._free_on_node
        self.tasks = TaskTable(self)
        self.actors = ActorManager(self)
        self.placement = HeadPlacement(self)
        self.owner_pidfd = os.pidfd_open(args.owner_pid) if args.owner_pid else None
        self.running = True
        self._scratch = receive_buffer()  # every connection is read into it, one at a time
        self._job_counter = 0
        self.events.emit("node", self.node_id, "ALIVE", {"ip": self.node_ip})

    # ----------------------------------------------------------------- main loop
    def serve(self) -> None:
        sel = self.sel
        if self.owner_pidfd is not None:
            sel.register(self.owner_pidfd, selectors.EVENT_READ, "owner")
        for _ in range(int(self.args.num_cpus) or 1):
            self.pool.spawn()
        next_tick = time.monotonic()
        while self.running:
            ready = sel.select(0 if self.outbox else 0.1)
            self.events.tick()
            for key, mask in ready:
                data = key.data
                if isinstance(data, Conn):
                    if mask & selectors.EVENT_READ:
                        self._read(data)
                    if mask & selectors.EVENT_WRITE:
                        self._write_pending(data)
                elif data == "listener":
                    self._accept(key.fileobj)  # type: ignore[arg-type]
                elif data == "owner":
                    self.running = False
                else:
                    sel.unregister(key.fileobj)
                    self.tasks.on_worker_died(data, _exit_code(data))
            self.tasks.schedule()
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + 0.05
                self._push_events()
                self.tasks.periodic(now)
                self.actors.periodic(now)
                self._expire_hellos(now)
                self._resume_accepting(now)
            self._flush_outbox()
        self.shutdown()

    def _watch(self, worker: WorkerProc) -> WorkerProc:
        if worker.pidfd is not None:
            self.sel.register(worker.pidfd, selectors.EVENT_READ, worker)
        return worker

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._accept_failed(exc)
                return
            # Security: unauthenticated TCP connections are capped in total and per peer host,
            # so one peer cannot take every descriptor or crowd out the cluster's own processes.
            # Unix-socket peers are not counted: only this user can connect to that socket
            # (0600), and a start-up storm of local workers must never be refused.
            where = addr[0] if isinstance(addr, tuple) and addr else None
            if where is not None and (
                self._waiting_total >= config.MAX_UNAUTHENTICATED
                or self._waiting[where] >= config.MAX_UNAUTHENTICATED_PER_PEER
            ):
                sock.close()
                self._log_line(
                    where,
                    f"refused a connection from {where}: too many connections still in their "
                    f"handshake ({self._waiting[where]} from there, {self._waiting_total} in all)",
                )
                continue
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Conn(sock, self.token, where)
            if where is not None:
                self._waiting[where] += 1
                self._waiting_total += 1
            self.sel.register(sock, selectors.EVENT_READ, conn)
            self._unauthenticated.append((time.monotonic() + config.HELLO_TIMEOUT, conn))

    def _accept_failed(self, exc: OSError) -> None:
        """accept() failed. Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): the
        pending connection stays queued in the kernel, so the listener would be readable again
        at once; rest the listeners a moment (handshake deadlines free descriptors meanwhile)
        instead of spinning, and never exit. Anything else (a connection aborted before we took
        it) concerns that one connection only."""
        if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            self._log_line("accept", f"cannot accept connections for now: {exc}")
            if not self._accept_paused_until:
                for sock in self.listeners:
                    self.sel.unregister(sock)
            self._accept_paused_until = time.monotonic() + ACCEPT_BACKOFF

    def _resume_accepting(self, now: float) -> None:
        if self._accept_paused_until and now >= self._accept_paused_until:
            self._accept_paused_until = 0.0
            for sock in self.listeners:
                self.sel.register(sock, selectors.EVENT_READ, "listener")

    def _log_line(self, key: str, text: str) -> None:
        """One line to the head's log, at most so many per key (a peer) in a while: a hostile
        peer cannot flood the log (see log_limit.py)."""
        for line in self._log.lines(key, text):
            print(f"head: {line}", file=sys.stderr, flush=True)

    def _unwait(self, conn: Conn) -> None:
        where = conn.waiting
        if where is not None:
            conn.waiting = None
            self._waiting_total -= 1
            self._waiting[where] -= 1
            if not self._waiting[where]:
                del self._waiting[where]

    def _expire_hellos(self, now: float) -> None:
        # Security: a connection that does not authenticate in time is refused, so silent
        # connections cannot pile up until the head runs out of descriptors.
        pending = self._unauthenticated
        while pending and pending[0][0] <= now:
            _, conn = pending.popleft()
            if conn.peer is None and conn.sock.fileno() >= 0:
                self._close_conn(conn, f"no handshake within {config.HELLO_TIMEOUT:g} s")

    def drain(self, peer: Peer) -> None:
        """Handle everything `peer` sent before it died (its process is gone, so this ends):
        a worker's last reports must count before its death is handled."""
        conn = peer.conn
        while conn.peer is peer and self._read(conn):
            pass

    def _read(self, conn: Conn) -> bool:
        """Read and handle what arrived on `conn`; False when nothing was there or it closed."""
        n = receive_into(conn.sock, conn.rbuf, self._scratch)
        if n is None:
            return False
        if not n:
            self._close_conn(conn, "closed the connection")
            return False
        if conn.hs is not None and not self._handshake(conn):
            return True
        try:
            frames, used = split_frames(conn.rbuf)
        except FrameError as exc:
            self._close_conn(conn, str(exc))
            return False
        del conn.rbuf[:used]
        for data in frames:
            peer = conn.peer
            if peer is None:
                return False  # the peer left (GOODBYE) mid-read: the rest of its frames are void
            try:
                batch = protocol.loads(data)
                if not isinstance(batch, list):
                    raise protocol.ProtocolError("a frame must hold a list of messages")
                for msg in batch:
                    if conn.peer is not peer:
                        break  # dropped by an earlier message of this batch
                    problem = schema.message_problem(msg)
                    if problem is None:
                        self._dispatch(peer, msg)
                    else:
                        self._refuse_message(peer, msg, problem)
            except protocol.ProtocolError as exc:
                self._log_line(peer.client_id, f"dropped a frame from {peer.client_id}: {exc}")
            except Exception:
                self._log_line(
                    peer.client_id,
                    f"error handling a frame from {peer.client_id}:\n"
                    + traceback.format_exc().rstrip(),
                )
        return True

    def _refuse_message(self, peer: Peer, msg: Any, problem: str) -> None:
        """A malformed message is not acted on; a malformed request is answered with the
        problem, so its sender fails at once instead of waiting out a timeout."""
        self._log_line(peer.client_id, f"dropped a message from {peer.client_id}: {problem}")
        if (
            type(msg) is tuple
            and len(msg) > 1
            and msg[0] == protocol.REQUEST
            and type(msg[1]) is int
        ):
            self._send(peer, (protocol.REPLY, msg[1], False, ("ValueError", problem)))

    def _handshake(self, conn: Conn) -> bool:
        """Advance a connection's handshake with the frames buffered; True once it is over and
        the peer is in (its later frames follow in the same buffer)."""
        hs = conn.hs
        assert hs is not None
        rbuf = conn.rbuf
        while conn.peer is None:
            if len(rbuf) < 4:
                return False
            length = int.from_bytes(rbuf[:4], "little")
            try:
                # Security: before the peer has proved it holds the token, no frame longer than
                # the handshake's fixed sizes is buffered.
                if length > hs.max_frame():
                    if hs.state == "challenge":
                        if len(rbuf) < 8:
                            return False  # its first bytes name a version-1 HELLO
                        check_first_frame_header(length, bytes(rbuf[4:8]))
                    raise HandshakeError(f"a handshake frame of {length} bytes is too long")
                if len(rbuf) < 4 + length:
                    return False
                data = bytes(rbuf[4 : 4 + length])
                del rbuf[: 4 + length]
                reply, info = hs.receive(data)
                if reply is not None:
                    conn.sock.send(frame(reply))  # a few dozen bytes into an empty buffer
            except protocol.ProtocolError as exc:  # HandshakeError, or an INFO not plain data
                reply = getattr(exc, "reply", None)
                if reply is not None:
                    try:
                        conn.sock.send(frame(reply))
                    except OSError:
                        pass
                self._close_conn(conn, str(exc))
                return False
            except OSError as exc:
                self._close_conn(conn, f"the connection broke during the handshake: {exc}")
                return False
            if info is not None and not self._handle_hello(conn, info):
                return False
        return True

    def _close_conn(self, conn: Conn, why: str) -> None:
        if conn.peer is None and why != "closed the connection":
            self._reject(conn, why)  # before the close, while the peer's address is known
        self._unwait(conn)
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        if conn.peer is not None:
            self._drop_peer(conn.peer, why)

    def _reject(self, conn: Conn, why: str) -> None:
        try:
            where = conn.sock.getpeername()
        except OSError:
            where = "?"
        where = where or "a local process"
        self._log_line(conn.waiting or str(where), f"refused a connection from {where}: {why}")

    def _handle_hello(self, conn: Conn, info: dict[str, Any]) -> bool:
        """The peer proved it holds the token and said who it is (INFO)."""
        problem = schema.info_problem(info)
        if problem is None and info["client_id"] in self.peers:
            problem = "a handshake INFO without a fresh client id"
        if problem is not None:
            self._refuse_peer(conn, problem)
            return False
        client_id = info["client_id"]
        self._unwait(conn)
        conn.hs = None
        peer = self.peers[client_id] = Peer(client_id, info, conn)
        conn.peer = peer
        self._on_peer_ready(peer)
        return conn.peer is peer  # False if it was refused and dropped

    def _refuse_peer(self, conn: Conn, why: str) -> None:
        """An authenticated peer whose INFO is malformed: it hears why, then is closed."""
        try:
            conn.sock.send(frame(protocol.dumps([("refused", f"malformed handshake: {why}")])))
        except OSError:
            pass
        self._close_conn(conn, why)

    def _on_peer_ready(self, peer: Peer) -> None:
        info = peer.info
        welcome = dict(self.session_info)
        if peer.role == "worker":
            worker = self.nodes.worker(str(info.get("worker_id")))
            if worker is None or worker.state == "dead":
                self._send(peer, ("welcome", welcome))
                self._send(peer, (protocol.SHUTDOWN, "unknown worker"))
                return
            if worker.peer is not None and worker.peer.client_id in self.peers:
                # A second connection naming a connected worker must not take over its tasks.
                self._send(peer, ("refused", f"worker {worker.id} is already connected"))
                self._close_after_flush(peer)
                return
            worker.peer = peer
            peer.worker = worker
            if not worker.node.is_head:
                worker.pid = int(info.get("pid") or 0)
                worker.event_info = {"worker_id": worker.id, "pid": worker.pid}
                welcome.update(
                    shm_dir=worker.node.shm_dir, node_id=worker.node.id, node_ip=worker.node.ip
                )
            self._send(peer, ("welcome", welcome))
            self.events.emit("worker", worker.id, "ALIVE", {"pid": worker.pid})
            self.tasks.on_worker_ready(worker)
            return
        if peer.role == "node":
            try:
                node = self._make_node(peer)
            except (KeyError, TypeError, ValueError) as exc:
                # An authenticated but malformed node: refuse it, keep running.
                self._send(peer, (protocol.SHUTDOWN, f"malformed node info: {exc}"))
                return
            welcome["sys_path"] = json.loads(self.args.sys_path or "[]")
            self._send(peer, ("welcome", welcome))
            self._add_node(node)
            return
        if peer.role in ("driver", "observer", "client"):
            home = self.nodes.on_machine(str(info.get("machine") or self.nodes.head_node.machine))
            if home is None:
                # Its puts and gets need a store on its own machine: a node of this cluster.
                where = self.args.port and (self.args.node_ip_address, self.args.port)
                address = f"{where[0]}:{where[1]}" if where else "HOST:PORT"
                self._send(
                    peer,
                    (
                        "refused",
                        "This machine has no node of the cluster, so a driver here has no object "
                        f"store. Add this machine first: `rayground start --address {address}` "
                        "(with RAYGROUND_TOKEN set), then connect again.",
                    ),
                )
                self._close_after_flush(peer)
                return
            peer.home = home
            if not home.is_head:
                welcome.update(shm_dir=home.shm_dir, node_id=home.id, node_ip=home.ip)
        if peer.role == "driver":
            self._job_counter += 1
            job_id = f"{self._job_counter:08x}"
            peer.job_id = job_id
            self.jobs[job_id] = {
                "job_id": job_id,
                "sys_path": info.get("sys_path", []),
                "cwd": info.get("cwd"),
                "namespace": info.get("namespace"),
                "env_vars": info.get("env_vars") or {},
                "log_to_driver": info.get("log_to_driver", True),
                "driver": peer.client_id,
                "pid": peer.pid,
                "start_time": time.time(),
                "status": "RUNNING",
            }
            welcome["job_id"] = job_id
            self.events.emit("job", job_id, "RUNNING", {"pid": peer.pid})
        self._send(peer, ("welcome", welcome))

    # ----------------------------------------------------------------- other nodes
    def _make_node(self, peer: Peer) -> Node:
        info = peer.info  # its fields' types were checked (schema.INFO["node"])
        total = {k: float(v) for k, v in info["resources"].items()}
        if info["node_id"] in self.nodes.by_id:
            raise ValueError(f"the node id {info['node_id']} is already in use")
        server = info.get("object_server")
        node = Node(
            str(info["node_id"]),
            str(info.get("node_ip", "?")),
            NodeResources(total, [str(g) for g in info.get("gpu_ids") or []]),
            RemoteWorkerPool(lambda msg: self._send(peer, msg)),
            str(info.get("shm_dir", "")),
            str(server) if server else None,
            peer=peer,
        )
        node.machine = str(info.get("machine") or "")
        node.pool.node = node
        return node

    def _add_node(self, node: Node) -> None:
        total = node.resources.total
        node.peer.node = node
        self.nodes.add(node)
        self.events.emit("node", node.id, "ALIVE", {"ip": node.ip, "resources": total})
        for _ in range(int(total.get("CPU", 0)) or 1):
            node.pool.spawn()
            self.tasks.num_starting += 1
        self.actors.place_waiting()

    def _node_lost(self, node: Node, why: str) -> None:
        """A node's process is gone: its workers with it; rebuild or fail what it held."""
        if why == "left":  # it said goodbye: stopped on purpose (remove_node, SIGTERM)
            self.nodes.mark_dead(node, DEATH_EXPECTED_TERMINATION, "The node was stopped.")
        else:
            message = f"The node's process was lost ({why}): it crashed, was killed or hung."
            self.nodes.mark_dead(node, DEATH_UNEXPECTED_TERMINATION, message)
        self.events.emit("node", node.id, "DEAD", {"why": why})
        self.placement.node_lost(node.id)
        for worker in list(node.pool.workers.values()):
            self.tasks.on_worker_died(worker, None)
        for oid in self.objects.node_lost(node.id):
            if self.tasks.reconstruct(oid):
                continue
            obj = self.objects.get(oid)
            if obj is None:
                continue
            shown = ids.to_hex(oid)
            lost = exceptions.ObjectLostError(
                shown,
                f"Object {shown} was stored on node {node.id[:12]} ({node.ip}), which died. "
                "Objects made by put() cannot be rebuilt; keep the data where it can be made "
                "again, or make it in a task (task results are rebuilt from their lineage).",
            )
            obj.desc = None
            self.objects.seal(oid, error_desc(lost), [])
        for peer in list(self.peers.values()):
            if peer.role == "driver":
                self.warn(peer.client_id, f"Node {node.id[:12]} ({node.ip}): {node.death_message}")

    def _owner_died(self, peer: Peer) -> None:
        """A worker exited: what it put and others still hold is lost with it (Ray's ownership)."""
        worker = peer.worker
        who = f"worker {peer.client_id}"
        if worker is not None:
            who += f" (pid {worker.pid}" + (
                f", actor {ids.to_hex(worker.actor_id)})" if worker.actor_id else ")"
            )

        def error(oid: str) -> tuple:
            shown = ids.to_hex(oid)
            return error_desc(
                exceptions.OwnerDiedError(
                    shown,
                    f"Failed to retrieve object {shown}. The object's owner has exited. This is "
                    "the Python worker that first created the ObjectRef via `.remote()` or "
                    f"`ray.put()`: here put() in {who}, which died. An object put inside a "
                    "task or actor belongs to that worker and is lost when it exits, although "
                    "others still hold its ref. To keep the value, return it from the task or "
                    "method instead of returning a ref made by put().",
                )
            )

        self.objects.owner_died(peer.client_id, error)

    def _free_on_node(self, node_id: str, name: str) -> None:
        node = self.nodes.by_id.get(node_id)
        if node is not None and node.peer is not None and node.state == "ALIVE":
            self._send(node.peer, (protocol.NODE_FREE, [name]))

    def node_of(self, peer: Peer) -> Node:
        """The node whose shared memory this peer reads and writes."""
        worker = peer.worker
        if worker is not None:
            return worker.node
        return peer.home or self.nodes.head_node

    def _on_worker_exit(self, peer: Peer, msg: tuple) -> None:
        node = getattr(peer, "node", None)
        if node is None:
            return
        worker = node.pool.workers.get(str(msg[1]))
        if worker is not None:
            worker.exit_code = msg[2]
            self.tasks.on_worker_died(worker, msg[2])

    def _on_copied(self, peer: Peer, msg: tuple) -> None:
        self.objects.add_copy(str(msg[1]), self.node_of(peer).id)

    # ----------------------------------------------------------------- dispatch
    def _dispatch(self, peer: Peer, msg: tuple) -> None:
        kind = msg[0]
        handler = self._handlers.get(kind)
        if handler is None:
            return  # unknown kinds are ignored (protocol compatibility rule)
        handler(self, peer, msg)

    def _on_submit(self, peer: Peer, msg: tuple) -> None:
        spec = msg[1]
        if spec.get("actor_id"):
            self.actors.submit_call(peer, spec)
        else:
            self.tasks.submit(peer, spec)

    def _on_put(self, peer: Peer, msg: tuple) -> None:
        _, oid, desc, contained = msg[:4]
        self.objects.seal(
            oid, desc, list(contained), holder=peer.client_id, node=self.node_of(peer).id
        )
        self.tasks.object_ready(oid)
        if desc[0] == "s":
            self._check_capacity()

    def _on_incref(self, peer: Peer, msg: tuple) -> None:
        self.objects.incref(peer.client_id, msg[1])

    def _on_decref(self, peer: Peer, msg: tuple) -> None:
        self.objects.decref(peer.client_id, msg[1])

    def _on_want(self, peer: Peer, msg: tuple) -> None:
        _, oids, blocking = msg[:3]
        for oid in oids:
            desc = self.objects.want(peer.client_id, oid)
            if desc is not None:
                self._push_obj(peer.client_id, oid, desc)
            elif self.objects.get(oid) is None:
                task = self.tasks.tasks.get(oid.rsplit(".", 1)[0])
                if (
                    task is not None
                    and task.spec.get("generator")
                    and task.state
                    not in (
                        "FINISHED",
                        "FAILED",
                    )
                ):
                    # The next item of a running generator: it may still be produced.
                    self.objects.expect(oid, peer.client_id, task.id)
                    self.objects.want(peer.client_id, oid)
                    continue
                self._push_obj(
                    peer.client_id,
                    oid,
                    error_desc(
                        exceptions.ObjectLostError(
                            ids.to_hex(oid),
                            f"Object {ids.to_hex(oid)} is unknown to the cluster: it was freed "
                            "after its "
                            "last reference was dropped, or it belongs to another cluster.",
                        )
                    ),
                )
        if blocking and peer.worker is not None:
            self.tasks.worker_blocked(peer.worker)

    def _on_return(self, peer: Peer, msg: tuple) -> None:
        if peer.worker is not None:
            self.tasks.on_returned(peer.worker, list(msg[1]))

    def _on_unblocked(self, peer: Peer, msg: tuple) -> None:
        if peer.worker is not None:
            self.tasks.worker_unblocked(peer.worker)

    def _on_done(self, peer: Peer, msg: tuple) -> None:
        worker = peer.worker
        if worker is None:
            return
        times = caller = None
        if len(msg) > 4 and type(msg[4]) is dict:
            if worker.actor_id is not None:
                # An actor's creation finished: where callers may send it calls directly.
                address = msg[4].get("direct")
                if type(address) is str and address.startswith("ipc://"):
                    worker.direct_address = address
            # When the task or call ran, by the worker's clock (the head heard of its start and
            # end later), and, for a direct call, whose it was.
            ran: Any = msg[4].get("times")  # checked below (mypy does not narrow `type(x) in`)
            if (
                type(ran) in (tuple, list)
                and len(ran) == 2
                and all(type(t) is float for t in ran)
                and 0 < ran[0] <= ran[1]
            ):
                times = (ran[0], ran[1])
            if type(msg[4].get("caller")) is str:
                caller = msg[4]["caller"]
        self.tasks.on_done(worker, msg[1], msg[2], msg[3], times, caller)

    def _on_failed(self, peer: Peer, msg: tuple) -> None:
        if peer.worker is not None:
            self.tasks.on_failed(peer.worker, msg[1], msg[2], bool(msg[3]), str(msg[4]))

    def _on_gen_item(self, peer: Peer, msg: tuple) -> None:
        self.tasks.on_gen_item(msg[1], msg[2], msg[3], msg[4], self.node_of(peer).id)

    def _on_cancel(self, peer: Peer, msg: tuple) -> None:
        self.tasks.cancel(msg[1], bool(msg[2]), bool(msg[3]))

    def _on_create_actor(self, peer: Peer, msg: tuple) -> None:
        self.actors.create(peer, msg[1])

    def _on_kill_actor(self, peer: Peer, msg: tuple) -> None:
        self.actors.kill(msg[1], bool(msg[2]))

    def _on_actor_exit(self, peer: Peer, msg: tuple) -> None:
        self.actors.exit_requested(msg[1])

    def _on_log(self, peer: Peer, msg: tuple) -> None:
        job = self.jobs.get(msg[1])
        if job is None or not job["log_to_driver"]:
            return
        driver = self.peers.get(job["driver"])
        if driver is not None:
            self._send(driver, (protocol.LOG, msg[1], msg[2]))

    def _on_subscribe(self, peer: Peer, msg: tuple) -> None:
        self.subscribers[peer.client_id] = int(msg[1])

    def _on_unsubscribe(self, peer: Peer, msg: tuple) -> None:
        self.subscribers.pop(peer.client_id, None)

    def _on_goodbye(self, peer: Peer, msg: tuple) -> None:
        self._drop_peer(peer, "left")

    def _on_request(self, peer: Peer, msg: tuple) -> None:
        _, req_id, what, args = msg[:4]
        from .head_requests import handle_request

        try:
            ok, value = True, handle_request(self, peer, what, args)
        except KeyError as exc:
            ok, value = False, ("ValueError", str(exc.args[0]) if exc.args else str(exc))
        except ValueError as exc:
            ok, value = False, ("ValueError", str(exc))
        except exceptions.RayError as exc:
            ok, value = False, (type(exc).__name__, str(exc))
        except Exception as exc:
            # A bug of ours, not the caller's: it still gets an answer at once (no timeout).
            self._log_line(
                peer.client_id,
                f"error answering {what!r} from {peer.client_id}:\n{traceback.format_exc()}",
            )
            ok, value = False, ("RaySystemError", f"the head failed on {what!r}: {exc!r}")
        if value is _DEFERRED:
            return
        self._send(peer, (protocol.REPLY, req_id, ok, value))

    _handlers: ClassVar[dict[str, Any]] = {
        protocol.SUBMIT: _on_submit,
        protocol.PUT: _on_put,
        protocol.INCREF: _on_incref,
        protocol.DECREF: _on_decref,
        protocol.WANT: _on_want,
        protocol.UNBLOCKED: _on_unblocked,
        protocol.RETURN: _on_return,
        protocol.DONE: _on_done,
        protocol.FAILED: _on_failed,
        protocol.GEN_ITEM: _on_gen_item,
        protocol.CANCEL: _on_cancel,
        protocol.CREATE_ACTOR: _on_create_actor,
        protocol.KILL_ACTOR: _on_kill_actor,
        protocol.ACTOR_EXIT: _on_actor_exit,
        protocol.LOG: _on_log,
        protocol.SUBSCRIBE: _on_subscribe,
        protocol.UNSUBSCRIBE: _on_unsubscribe,
        protocol.GOODBYE: _on_goodbye,
        protocol.REQUEST: _on_request,
        protocol.WORKER_EXIT: _on_worker_exit,
        protocol.COPIED: _on_copied,
    }

    # ----------------------------------------------------------------- output
    def _send(self, peer: Peer, msg: tuple) -> None:
        self.outbox[peer].append(msg)

    def send_to(self, client_id: str, msg: tuple) -> None:
        peer = self.peers.get(client_id)
        if peer is not None:
            self.outbox[peer].append(msg)

    def _push_obj(self, client_id: str, oid: str, desc: tuple) -> None:
        self.send_to(client_id, (protocol.OBJ, oid, desc))

    def notice_after(self, peer: Peer, msg: tuple, worker: WorkerProc) -> None:
        """Send `msg` to `peer` only after everything queued for `worker` has been written."""
        if worker.peer is not None:
            self.notices.append((peer, msg, worker.peer.conn))

    def warn(self, client_id: str | None, text: str) -> None:
        print(f"head: {text}", file=sys.stderr, flush=True)
        if client_id is not None:
            self.send_to(client_id, ("warning", text))

    def _flush_outbox(self) -> None:
        if not self.outbox:
            return
        for peer, msgs in self.outbox.items():
            conn = peer.conn
            data = frame(protocol.dumps(msgs))
            if conn.wbuf:
                conn.wbuf += data
                continue
            try:
                sent = conn.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                continue  # the read side will see the close
            if sent < len(data):
                conn.wbuf += data[sent:]
                self.sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
        self.outbox.clear()
        if self.notices:
            waiting = []
            for peer, msg, after in self.notices:
                if after.wbuf:
                    waiting.append((peer, msg, after))  # not all written yet: next turn
                elif peer.client_id in self.peers:
                    self.outbox[peer].append(msg)
            self.notices = waiting
            if self.outbox:
                self._flush_outbox()

    def _close_after_flush(self, peer: Peer) -> None:
        """Send what is queued for `peer` (a short refusal), then drop it."""
        msgs = self.outbox.pop(peer, None)
        if msgs:
            try:
                peer.conn.sock.send(frame(protocol.dumps(msgs)))
            except OSError:
                pass
        self._drop_peer(peer, "refused")

    def _write_pending(self, conn: Conn) -> None:
        try:
            sent = conn.sock.send(conn.wbuf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        del conn.wbuf[:sent]
        if not conn.wbuf:
            self.sel.modify(conn.sock, selectors.EVENT_READ, conn)

    def _push_events(self) -> None:
        if not self.subscribers:
            return
        for client_id, after in list(self.subscribers.items()):
            if after >= self.events.seq:
                continue
            batch, lost = self.events.since(after, 5000)
            if batch or lost:
                self.send_to(
                    client_id, (protocol.EVENTS, batch[0][0] if batch else after, batch, lost)
                )
                self.subscribers[client_id] = batch[-1][0] if batch else self.events.seq

    def _check_capacity(self) -> None:
        self.objects.trim_recycled()
        over = self.objects.over_capacity()
        if over > 0:
            self.objects.spill_until(over, self.tasks.objects_in_use())

    # ----------------------------------------------------------------- deaths
    def _drop_peer(self, peer: Peer, why: str) -> None:
        if self.peers.pop(peer.client_id, None) is None:
            return
        self.outbox.pop(peer, None)
        if peer.conn.peer is peer:
            conn = peer.conn
            conn.peer = None
            try:
                self.sel.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            conn.sock.close()
        self.subscribers.pop(peer.client_id, None)
        self.tasks.forget_caller(peer.client_id)
        if peer.role == "node" and peer.node is not None:
            self._node_lost(peer.node, why)
            return
        self.objects.drop_client(peer.client_id)
        if peer.role == "worker":
            self._owner_died(peer)
        if peer.role == "driver" and peer.job_id:
            job = self.jobs.get(peer.job_id)
            if job is not None:
                job["status"] = "SUCCEEDED" if why == "left" else "STOPPED"
                job["end_time"] = time.time()
            self.events.emit("job", peer.job_id, job["status"] if job else "STOPPED", None)
            self.actors.on_job_exit(peer.job_id)
            self.placement.job_ended(peer.job_id)
            self.tasks.on_owner_gone(peer.client_id)

    def shutdown(self) -> None:
        self.running = False
        for peer in list(self.peers.values()):
            if peer.role != "worker":
                self._send(peer, (protocol.SHUTDOWN, "the head shut down"))
        self._flush_outbox()
        self.pool.stop_all()
        if self.object_server is not None:
            self.object_server.close()
        remove_tree(self.shm_dir)
        for sock in self.listeners:
            sock.close()
        for listener in self.tls_listeners:
            listener.close()
        for endpoint in self.endpoints:
            if endpoint.startswith("ipc://"):
                try:
                    os.unlink(endpoint[len("ipc://") :])
                except OSError:
                    pass


_DEFERRED = object()
HEAD_GC_THRESHOLDS = (100_000, 50, 1000)
ACCEPT_BACKOFF = 0.1  # seconds the listeners rest after accept() ran out of descriptors


def _exit_code(worker: WorkerProc) -> int | None:
    return worker.reap(timeout=1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rayground-head")
    p.add_argument("--session-dir", required=True)
    p.add_argument("--shm-dir", required=True)
    p.add_argument("--num-cpus", type=float, required=True)
    p.add_argument("--num-gpus", type=float, default=0)
    p.add_argument("--gpu-ids", default="[]")
    p.add_argument("--resources", default="{}")
    p.add_argument("--object-store-memory", type=int, required=True)
    p.add_argument("--owner-pid", type=int, default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--node-ip-address", default="127.0.0.1")
    p.add_argument("--sys-path", default="[]")
    p.add_argument("--cwd", default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.umask(0o077)  # everything the head and its forked workers write is owner-only
    # Workers are forked from this process: import what they need once, here, and freeze it so
    # the garbage collector never writes to (and so un-shares) those pages in the children.
    from . import worker as _preloaded  # noqa: F401

    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the owner or `rayground stop` ends us
    raise_fd_limit()
    head = Head(args)

    def _terminate(signum: int, frame: Any) -> None:
        head.running = False

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    lifetime.write_info(
        os.path.join(args.session_dir, "head.json"),
        {
            "addresses": head.endpoints,
            "node_id": head.node_id,
            # Which process owns the cluster (a kernel, a script); None for `rayground start`.
            "owner_pid": args.owner_pid,
            "started": time.time(),
        },
    )
    print(f"READY {json.dumps(head.endpoints)}", flush=True)
    # The head keeps a record per task and object, tens of thousands under load: with the
    # default thresholds the cycle collector walks them all again and again (a fifth of the
    # head's time in a 10,000-task burst). Its own records hold no cycles that need collecting
    # quickly, so collect rarely. Workers forked from here restore the default thresholds.
    gc.set_threshold(*HEAD_GC_THRESHOLDS)
    try:
        head.serve()
    finally:
        head.shutdown()


if __name__ == "__main__":
    main()
