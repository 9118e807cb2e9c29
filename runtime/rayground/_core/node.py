"""A node process: one machine's share of a cluster whose head runs elsewhere.

    rayground start --address HOST:PORT   ->  python -m rayground._core.node --address ...

    head  --NODE_SPAWN/NODE_KILL/NODE_FREE-->  node  --fork-->  workers --TCP--> head
    head  <--------WORKER_EXIT---------------  node (pidfds of its workers, in one poll)
    other nodes' readers <--object server thread-- this node's shared memory

The node has its own shared-memory directory and object server; the head schedules its workers.
Workers connect to the head themselves (one hop for every task message), and watch this
process: when it ends they end. The node ends when the head's connection does, or on SIGTERM
(`rayground stop`), taking its workers and its shared memory with it.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import sys
import time
from typing import Any

from . import config, handshake, ids, lifetime, protocol, resources, tls
from .object_transfer import ObjectServer
from .transport import (
    FrameError,
    connect,
    frame,
    normalize_address,
    raise_fd_limit,
    receive_buffer,
    receive_into,
    split_frames,
    write_token_file,
)
from .worker_pool import WorkerPool, WorkerProc


class NodeProcess:
    def __init__(self, args: argparse.Namespace, token: bytes) -> None:
        self.args = args
        self.token = token
        self.head_address = normalize_address(args.address)
        self.node_id = ids.random_hex(28)  # Ray's NodeID size
        self.session_dir = lifetime.new_session_dir("node")
        self.token_file = os.path.join(self.session_dir, "token")
        write_token_file(self.token_file, token)  # for this node's workers: owner-only
        # Owner-only and made exclusively before the object server can name it to anyone.
        self.shm_dir = lifetime.make_shm_dir(self.session_dir)
        self.spill_dir = os.path.join(self.session_dir, "spill")
        # A TLS cluster (its token pins the head's certificate): this node's object server
        # speaks TLS too, with a certificate of its own that its address names.
        cert = tls.make_certificate(self.session_dir) if tls.token_pin(token) else None
        self.server = ObjectServer(
            args.node_ip_address, token, [self.shm_dir, self.spill_dir], cert
        )
        self._write_info()  # from now on a sweep can find (and clean) this node's memory
        self.sel = selectors.DefaultSelector()
        self.sock: socket.socket | None = None
        self.rbuf = bytearray()
        self._scratch = receive_buffer()
        self.pool: WorkerPool | None = None
        self.running = True
        self._early: list[tuple] = []

    # ------------------------------------------------------------------ joining
    def join(self) -> dict[str, Any]:
        args = self.args
        gpu_ids = resources.gpu_device_names(int(args.num_gpus))
        total = {"CPU": float(args.num_cpus), "memory": float(resources.total_memory())}
        if args.num_gpus:
            total["GPU"] = float(args.num_gpus)
        total["object_store_memory"] = float(args.object_store_memory)
        total[f"node:{args.node_ip_address}"] = 1.0
        total.update(json.loads(args.resources or "{}"))
        info = {
            "role": "node",
            "client_id": ids.unique("n"),
            "pid": os.getpid(),
            "machine": ids.machine_id(),
            "node_id": self.node_id,
            "node_ip": args.node_ip_address,
            "resources": total,
            "gpu_ids": gpu_ids,
            "shm_dir": self.shm_dir,
            "object_server": self.server.address,
        }
        try:
            sock = connect(self.head_address, timeout=10, pin=tls.token_pin(self.token))
        except OSError as exc:
            raise ConnectionError(
                f"Could not reach a rayground head at {self.args.address} ({exc}). Check the "
                "address that `rayground start --head` printed."
            ) from None
        try:
            handshake.peer_over_socket(sock, self.token, info, timeout=10)
        except (handshake.HandshakeError, OSError) as exc:
            sock.close()
            raise ConnectionError(
                f"Could not join the head at {self.args.address}: {exc}. The token itself is "
                "never sent; check the address and the token (RAYGROUND_TOKEN or --token-file)."
            ) from None
        welcome = self._first_message(sock)
        sock.setblocking(False)
        self.sock = sock
        self.sel.register(sock, selectors.EVENT_READ, "head")
        self.pool = WorkerPool(
            {"session_dir": self.session_dir, "cwd": None},
            {
                "RAYGROUND_ADDRESS": self.head_address,
                "RAYGROUND_TOKEN_FILE": self.token_file,
                "RAYGROUND_HEAD_PID": str(os.getpid()),  # workers end with this node
                "RAYGROUND_SYS_PATH": json.dumps(welcome.get("sys_path") or []),
            },
        )
        self.pool.on_spawn = self._watch
        for msg in self._early:
            self._handle(msg)
        self._early = []
        return welcome

    def _write_info(self) -> None:
        lifetime.write_info(
            os.path.join(self.session_dir, "node.json"),
            {
                "node_id": self.node_id,
                "head": self.head_address,
                "object_server": self.server.address,
                "started": time.time(),
            },
        )

    def _first_message(self, sock: socket.socket) -> dict[str, Any]:
        sock.settimeout(10)
        buf = bytearray()
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                chunk = b""
            if not chunk:
                raise ConnectionError(
                    f"The head at {self.args.address} refused this node: check the token "
                    "(RAYGROUND_TOKEN or --token-file must hold the head's token)."
                )
            buf += chunk
            frames, used = split_frames(buf)
            if frames:
                del buf[:used]
                self.rbuf = buf
                batch = protocol.loads(frames[0])
                kind, payload = batch[0][0], batch[0][1]
                if kind != "welcome":
                    raise ConnectionError(f"The head answered {kind!r}: {payload}")
                # Messages that came with the welcome wait until the pool exists.
                self._early = list(batch[1:])
                for data in frames[1:]:
                    self._early += protocol.loads(data)
                return payload

    # ------------------------------------------------------------------ serving
    def serve(self) -> None:
        while self.running:
            for key, _ in self.sel.select(0.5):
                if key.data == "head":
                    self._read_head()
                else:
                    worker: WorkerProc = key.data
                    self.sel.unregister(key.fileobj)
                    code = worker.reap(timeout=1.0)
                    assert self.pool is not None
                    self.pool.forget(worker)
                    self._send((protocol.WORKER_EXIT, worker.id, code))

    def _watch(self, worker: WorkerProc) -> WorkerProc:
        if worker.pidfd is not None:
            self.sel.register(worker.pidfd, selectors.EVENT_READ, worker)
        return worker

    def _read_head(self) -> None:
        assert self.sock is not None
        n = receive_into(self.sock, self.rbuf, self._scratch)
        if n is None:
            return
        if not n:
            self.running = False
            return
        try:
            frames, used = split_frames(self.rbuf)
        except FrameError:
            self.running = False
            return
        del self.rbuf[:used]
        for data in frames:
            try:
                batch = protocol.loads(data)
            except protocol.ProtocolError as exc:
                print(f"node: dropped a frame from the head: {exc}", file=sys.stderr)
                continue
            for msg in batch:
                if isinstance(msg, tuple) and msg:
                    self._handle(msg)

    def _handle(self, msg: tuple) -> None:
        kind = msg[0]
        assert self.pool is not None or kind == protocol.SHUTDOWN
        if kind == protocol.NODE_SPAWN:
            self.pool.spawn(cwd=msg[2], worker_id=str(msg[1]))  # type: ignore[union-attr]
        elif kind == protocol.NODE_KILL:
            worker = self.pool.workers.get(str(msg[1]))  # type: ignore[union-attr]
            if worker is not None:
                self.pool.kill(worker, int(msg[2]))  # type: ignore[union-attr]
        elif kind == protocol.NODE_FREE:
            for name in msg[1]:
                if isinstance(name, str) and "/" not in name:
                    for d in (self.shm_dir, self.spill_dir):
                        try:
                            os.unlink(os.path.join(d, name))
                        except FileNotFoundError:
                            pass
        elif kind == protocol.SHUTDOWN:
            self.running = False

    def _send(self, msg: tuple) -> None:
        if self.sock is None:
            return
        try:
            self.sock.setblocking(True)
            self.sock.sendall(frame(protocol.dumps([msg])))
        except OSError:
            self.running = False
        finally:
            try:
                self.sock.setblocking(False)
            except OSError:
                pass

    def stop(self) -> None:
        self.running = False
        if self.pool is not None:
            self.pool.stop_all()
        self.server.close()
        if self.sock is not None:
            # Leaving on purpose: the head reports this node's death as expected (ray.nodes()'s
            # DeathReason), not as a crash. Where the head is gone already, the send fails.
            self._send((protocol.GOODBYE,))
            self.sock.close()
        lifetime.remove_shm_dir(self.shm_dir)
        try:
            os.unlink(os.path.join(self.session_dir, "node.json"))
        except FileNotFoundError:
            pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rayground-node")
    p.add_argument("--address", required=True, help="the head's host:port")
    p.add_argument("--token-file", default=None)
    p.add_argument("--num-cpus", type=float, default=float(os.cpu_count() or 1))
    p.add_argument("--num-gpus", type=float, default=None)
    p.add_argument("--resources", default="{}")
    p.add_argument("--object-store-memory", type=int, default=None)
    p.add_argument("--node-ip-address", default="127.0.0.1")
    return p.parse_args(argv)


def read_token(token_file: str | None) -> bytes:
    if token_file:
        with open(token_file, "rb") as f:
            return f.read().strip()
    token = os.environ.get("RAYGROUND_TOKEN", "").strip().encode()
    if not token:
        raise ConnectionError(
            "To join a cluster, set RAYGROUND_TOKEN to the head's token (or pass --token-file); "
            "`rayground start --head` prints where the token file is."
        )
    return token


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.umask(0o077)  # everything the node and its forked workers write is owner-only
    if args.num_gpus is None:
        args.num_gpus = float(resources.detect_gpus())
    if args.object_store_memory is None:
        args.object_store_memory = config.default_object_store_memory()
    # Workers are forked from here: import what they need once, as the head does.
    import gc

    from . import worker as _preloaded  # noqa: F401

    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_fd_limit()
    try:
        node = NodeProcess(args, read_token(args.token_file))
    except ConnectionError as exc:
        print(f"rayground: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)

    def on_term(signum: int, frame_: Any) -> None:
        node.running = False

    signal.signal(signal.SIGTERM, on_term)
    try:
        node.join()
    except ConnectionError as exc:
        print(f"rayground: {exc}", file=sys.stderr, flush=True)
        node.stop()
        sys.exit(1)
    except BaseException:
        node.stop()  # never leave shared memory behind, whatever went wrong
        raise
    print(f"READY {json.dumps({'node_id': node.node_id, 'pid': os.getpid()})}", flush=True)
    try:
        node.serve()
    finally:
        node.stop()


if __name__ == "__main__":
    main()
