"""The wire on a shared machine: the token never reaches whoever listens at an address, and
unauthenticated connections cannot exhaust the head or the object server (issue 12, holes 3-4).

A fake server on another loopback address (127.0.0.2) plays the classmate who listens where a
victim was told to connect: it records every byte and answers like a head that does not hold the
token. Silent raw sockets play the one who opens connections and never authenticates.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from _cluster import Standalone, child_env, cli, run_driver, start_standalone

from _needs import platform_skip
from _procs import process_alive, wait_until
from rayground._core import config, handshake, protocol
from rayground._core.transport import frame, recv_frame

_LEN = struct.Struct("<I")


class FakeHead:
    """Listens on 127.0.0.2, records what each connection sends, answers every challenge with a
    well-formed ANSWER whose proof is made up (a listener without the token can do no better)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.2", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.address = f"127.0.0.2:{self.sock.getsockname()[1]}"
        self.received = bytearray()
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(5)
                answered = False
                with contextlib.suppress(OSError):
                    while True:
                        data = conn.recv(65536)
                        if not data:
                            break
                        self.received += data
                        if not answered and len(self.received) >= 4 + handshake.CHALLENGE_LEN:
                            answered = True
                            fake = (
                                handshake.MAGIC
                                + config.PROTOCOL_VERSION.to_bytes(2, "little")
                                + os.urandom(handshake.NONCE_LEN + handshake.PROOF_LEN)
                            )
                            conn.sendall(frame(fake))

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=10)


@pytest.fixture
def fake_head() -> Iterator[FakeHead]:
    fake = FakeHead()
    try:
        yield fake
    finally:
        fake.close()


def _assert_token_absent(data: bytes, token: str) -> None:
    assert token.encode() not in data
    assert bytes.fromhex(token) not in data if len(token) % 2 == 0 else True
    # Not even a piece of it: any 16 characters of the token would be a leak.
    for i in range(0, len(token) - 16, 8):
        assert token[i : i + 16].encode() not in data


_DRIVER = """
import sys
import rayground as ray
try:
    ray.init(address=sys.argv[1])
except ConnectionError as exc:
    print("REFUSED", exc)
else:
    print("CONNECTED")
"""


def test_a_driver_given_the_token_never_sends_it_to_a_listener(standalone, fake_head, tmp_path):
    result = run_driver(tmp_path, _DRIVER, fake_head.address, RAYGROUND_TOKEN=standalone.token)
    assert result.returncode == 0, result.stderr
    assert "REFUSED" in result.stdout and "did not prove it holds the token" in result.stdout
    assert fake_head.connections == 1  # it did connect: what it sent is what we check
    assert len(fake_head.received) > 0
    _assert_token_absent(bytes(fake_head.received), standalone.token)


def test_the_cli_and_a_node_never_send_the_token_to_a_listener(standalone, fake_head):
    env = {"RAYGROUND_TOKEN": standalone.token}
    status = cli("status", "--address", fake_head.address, **env)
    assert status.returncode != 0
    assert "did not prove it holds the token" in status.stderr + status.stdout
    join = cli("start", "--address", fake_head.address, "--num-cpus", "1", **env)
    assert join.returncode != 0
    assert "did not prove it holds the token" in join.stderr + join.stdout
    assert fake_head.connections == 2
    _assert_token_absent(bytes(fake_head.received), standalone.token)


def test_without_a_token_no_other_sessions_token_is_used(standalone, fake_head, tmp_path):
    """With RAYGROUND_TOKEN unset, an address that is none of this user's sessions gets no
    token at all: a clear error, and not even a connection."""
    result = run_driver(tmp_path, _DRIVER, fake_head.address)
    assert result.returncode == 0, result.stderr
    assert "REFUSED" in result.stdout and "Set RAYGROUND_TOKEN" in result.stdout
    status = cli("status", "--address", fake_head.address)
    assert status.returncode != 0 and "RAYGROUND_TOKEN" in status.stderr + status.stdout
    assert fake_head.connections == 0 and not fake_head.received
    # The session's own address still finds its own token.
    own = run_driver(tmp_path, _DRIVER, standalone.address)
    assert "CONNECTED" in own.stdout, own.stdout + own.stderr


def _closed_at_once(sock: socket.socket, timeout: float = 10.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _connect(address: str, source: str = "127.0.0.1") -> socket.socket:
    host, port = address.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect((host, int(port)))
    return sock


def _log(cluster: Standalone) -> str:
    return cluster.head_log.read_text(errors="replace")


@contextlib.contextmanager
def _own_cluster(short_root: str, **env: str) -> Iterator[tuple[Standalone, dict[str, str]]]:
    env = {"RAYGROUND_TMPDIR": short_root, **env}
    cluster = start_standalone("--num-cpus", "1", "--object-store-memory", "64MB", **env)
    try:
        yield cluster, env
    finally:
        assert cli("stop", **env).returncode == 0
        wait_until(lambda: not process_alive(cluster.head_pid), timeout=15)


def test_unauthenticated_connections_are_capped_per_peer_and_in_all(short_root):
    caps = {"RAYGROUND_MAX_UNAUTHENTICATED_PER_PEER": "3", "RAYGROUND_MAX_UNAUTHENTICATED": "5"}
    with _own_cluster(short_root, **caps) as (cluster, env):
        held = [_connect(cluster.address) for _ in range(3)]
        try:
            extra = _connect(cluster.address)
            assert _closed_at_once(extra), "a 4th silent connection from one host was kept"
            extra.close()
            # Another host is not crowded out by the first one's silent connections.
            other = _connect(cluster.address, source="127.0.0.2")
            try:
                handshake.peer_over_socket(
                    other, cluster.token.encode(), {"role": "observer", "client_id": "c-o"}, 10
                )
                assert recv_frame(other, 1 << 20, time.monotonic() + 10)  # the welcome
            finally:
                other.close()
            # Two more silent ones from a second host reach the cap in all: a third host's
            # connection is refused too.
            held += [_connect(cluster.address, source="127.0.0.2") for _ in range(2)]
            third = _connect(cluster.address, source="127.0.0.3")
            assert _closed_at_once(third), "a connection past the cap in all was kept"
            third.close()
            assert "too many connections still in their handshake" in _log(cluster)
            # The Unix socket (owner-only) is not capped: local processes still get in.
            assert cli("status", **env).returncode == 0
        finally:
            for sock in held:
                sock.close()


def test_the_head_survives_running_out_of_descriptors(short_root, tmp_path):
    """accept() failing with EMFILE must not end the head: it rests, keeps serving its peers,
    and takes new connections once descriptors are free again."""
    with _own_cluster(short_root) as (cluster, env):
        pid = cluster.head_pid
        in_use = len(os.listdir(f"/proc/{pid}/fd"))
        _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use + 10, hard))
        socks = []
        try:
            for _ in range(60):  # more than the head can take: the rest wait in the backlog
                socks.append(_connect(cluster.address))
            wait_until(lambda: "cannot accept connections for now" in _log(cluster), timeout=10)
            assert process_alive(pid)
        finally:
            for sock in socks:
                sock.close()
        assert process_alive(pid)
        check = f"""
import rayground as ray
ray.init(address={cluster.address!r})
@ray.remote
def f(x):
    return x + 1
assert ray.get([f.remote(i) for i in range(20)]) == list(range(1, 21))
print("SERVED")
"""
        result = run_driver(tmp_path, check, timeout=60, RAYGROUND_TOKEN=cluster.token, **env)
        assert "SERVED" in result.stdout, result.stdout + result.stderr
        assert process_alive(pid)
        lines = [ln for ln in _log(cluster).splitlines() if "cannot accept" in ln]
        assert len(lines) <= 25, "the out-of-descriptors line must be rate-limited"


def _object_server_address(cluster: Standalone) -> str:
    from test_security import _listening_addresses

    head_port = int(cluster.address.rsplit(":", 1)[1])
    ports = [port for _, port in _listening_addresses(cluster.head_pid) if port != head_port]
    assert len(ports) == 1, ports
    return f"127.0.0.1:{ports[0]}"


def _pull_absent(address: str, token: str) -> int:
    """A real request for an object the server does not have: the size it answers (-1)."""
    sock = _connect(address)
    try:
        handshake.peer_over_socket(sock, token.encode(), {"role": "object-pull"}, 10)
        sock.sendall(frame(b"no-such-object"))
        data = sock.recv(8)
        return struct.unpack("<q", data)[0]
    finally:
        sock.close()


def test_the_object_server_caps_lengths_threads_and_time(short_root):
    env = {"RAYGROUND_OBJECT_SERVER_THREADS": "2", "RAYGROUND_HELLO_TIMEOUT": "2"}
    with _own_cluster(short_root, **env) as (cluster, _):
        address = _object_server_address(cluster)
        # An oversized length before authentication is refused without buffering it.
        sock = _connect(address)
        sock.sendall(_LEN.pack(1 << 30) + b"x" * 4096)
        assert _closed_at_once(sock)
        sock.close()
        # Two silent connections take both transfer slots; a third is closed at once ...
        silent = [_connect(address) for _ in range(2)]
        try:
            third = _connect(address)
            assert _closed_at_once(third, timeout=1.5), "a connection past the cap was kept"
            third.close()
            # ... and the silent ones are closed by the deadline, freeing the slots.
            assert all(_closed_at_once(s, timeout=10) for s in silent)
        finally:
            for s in silent:
                s.close()
        wait_until(lambda: _pull_absent(address, cluster.token) == -1, timeout=10)


def test_random_bytes_to_the_object_server_do_not_stop_it(short_root):
    import random

    with _own_cluster(short_root) as (cluster, _):
        address = _object_server_address(cluster)
        rng = random.Random(int(os.environ.get("RAYGROUND_FUZZ_SEED", "1234")))
        for _ in range(200):
            sock = _connect(address)
            try:
                roll = rng.random()
                if roll < 0.3:
                    sock.sendall(rng.randbytes(rng.randrange(1, 300)))
                elif roll < 0.6:  # a real challenge, then garbage where the proof goes
                    sock.sendall(frame(handshake.PeerHandshake(b"x").challenge()))
                    sock.sendall(rng.randbytes(rng.randrange(1, 100)))
                else:  # frames of random announced lengths
                    sock.sendall(_LEN.pack(rng.randrange(1 << 32)) + rng.randbytes(10))
            except OSError:
                pass
            finally:
                sock.close()
        assert process_alive(cluster.head_pid)
        wait_until(lambda: _pull_absent(address, cluster.token) == -1, timeout=15)


def test_the_head_raises_its_soft_fd_limit_to_the_hard_one(short_root):
    """Started with a soft limit of 256 (below the hard one), the head raises it, as Ray does."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        platform_skip(f"the hard limit on descriptors here is {hard}: nothing to raise it to")
    env = child_env(RAYGROUND_TMPDIR=short_root)
    cmd = [sys.executable, "-m", "rayground", "start", "--head", "--port", "0"]
    cmd += ["--num-cpus", "1", "--object-store-memory", "64MB"]
    result = subprocess.run(
        cmd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)),
    )
    assert result.returncode == 0, result.stderr
    pid = int(re.search(r"head pid (\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    try:
        soft, head_hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        assert head_hard == hard
        assert soft == hard or (hard == resource.RLIM_INFINITY and soft > 256)
    finally:
        assert cli("stop", RAYGROUND_TMPDIR=short_root).returncode == 0
        wait_until(lambda: not process_alive(pid), timeout=15)


# ------------------------------------------------------------------ authenticated peers (hole 5)


def _joined(cluster: Standalone, info: dict) -> tuple[socket.socket, list]:
    """A connection that completed the handshake with `info`; the head's first messages."""
    sock = _connect(cluster.address)
    handshake.peer_over_socket(sock, cluster.token.encode(), info, 10)
    first = recv_frame(sock, 1 << 24, time.monotonic() + 10)
    assert first is not None, "the head answered nothing"
    return sock, protocol.loads(first)


@pytest.mark.parametrize(
    ("resources", "named"),
    [
        ({"CPU": float("nan")}, "'resources'"),
        ({"CPU": float("inf")}, "'resources'"),
        ({"CPU": 1e300}, "'resources'"),
        ({"CPU": -4}, "'resources'"),
        ({"CPU": "lots"}, "'resources'"),
        ("CPU", "'resources'"),
    ],
)
def test_a_node_with_impossible_resources_is_refused_and_the_head_lives(
    standalone, resources, named
):
    info = {
        "role": "node",
        "client_id": f"n-bad-{os.urandom(4).hex()}",
        "node_id": "nbad",
        "node_ip": "127.0.0.1",
        "shm_dir": "/nonexistent",
        "resources": resources,
    }
    sock, first = _joined(standalone, info)
    try:
        assert first[0][0] == "refused" and named in first[0][1], first
        assert _closed_at_once(sock)
    finally:
        sock.close()
    assert process_alive(standalone.head_pid)
    nodes = cli("list", "nodes", "--json")
    assert nodes.returncode == 0 and json.loads(nodes.stdout)
    assert "nbad" not in nodes.stdout


@pytest.mark.parametrize(
    ("what", "args", "says"),
    [
        ("list_tasks", {"limit": "ten"}, "'limit' must be int >= 0"),
        ("locate", {}, "lacks 'oid'"),
        ("make_room", {"bytes": -1}, "'bytes' must be int >= 0"),
        ("get_actor", {"name": 5}, "'name' must be str"),
        ("create_actor", {"spec": {"actor_id": 3}}, "'spec' must be actor spec"),
        ("no_such_request", {}, "does not know the request 'no_such_request'"),
    ],
)
def test_every_bad_request_gets_an_error_reply_at_once(standalone, what, args, says):
    """A request with wrongly typed or missing arguments is answered with the problem: the
    caller never waits out a timeout."""
    from rayground._core.client import CoreClient

    client = CoreClient(f"tcp://{standalone.address}", standalone.token.encode(), role="observer")
    try:
        with pytest.raises(ValueError, match=re.escape(says)):
            client.request(what, args, timeout=10)
        assert client.request("status", {}, timeout=10)  # the connection is still good
    finally:
        client.close()


def test_malformed_messages_are_logged_at_a_bounded_rate(standalone):
    """Thousands of malformed messages from one peer make a handful of log lines, not one each
    (one malformed 16 MiB frame once made sixteen million)."""
    before = len(_log(standalone).splitlines())
    sock, first = _joined(standalone, {"role": "observer", "client_id": "c-noisy"})
    try:
        assert first[0][0] == "welcome"
        junk = [("incref", 7)] * 5000 + [("put", "o", ("s", "../x", 1), [])] * 5000
        sock.sendall(frame(protocol.dumps(junk)))
        sock.sendall(frame(protocol.dumps([("request", 1, "status", {})])))
        reply = recv_frame(sock, 1 << 24, time.monotonic() + 20)  # all of it was handled
        assert reply is not None and protocol.loads(reply)[0][0] == "reply"
    finally:
        sock.close()
    new = _log(standalone).splitlines()[before:]
    assert any("c-noisy" in line for line in new)
    assert len(new) <= 25, f"{len(new)} log lines for one peer's malformed messages"
