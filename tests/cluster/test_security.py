"""Closed by default: loopback only, a handshake on every connection, hostile frames survived.

Raw sockets play the attacker: they speak the frame format (`u32 length | payload`) directly, so
the tests see exactly what the head does with a connection that has no token, a wrong one, or a
right one followed by garbage.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import socket
import stat
import struct
import time
from pathlib import Path

import pytest
from _cluster import Standalone, cli, start_standalone

from _procs import process_alive, wait_until
from rayground._core import config, handshake, protocol, schema

_LEN = struct.Struct("<I")


class Marker:
    """Unpickling this creates a file: proof that the head unpickled something it must not."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _connect(cluster: Standalone) -> socket.socket:
    host, port = cluster.address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.settimeout(10)
    return sock


def _closed_by_peer(sock: socket.socket, timeout: float = 10.0) -> bool:
    """True if the head closes the connection (recv returns end-of-stream) within `timeout`."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _log_lines(cluster: Standalone) -> list[str]:
    return cluster.head_log.read_text(errors="replace").splitlines()


def _join(sock: socket.socket, token: str, info: dict) -> None:
    """The handshake, as a real peer does it (handshake.py)."""
    handshake.peer_over_socket(sock, token.encode(), info, timeout=10)


def _prove_with(sock: socket.socket, token: bytes, info: object) -> None:
    """An attacker's handshake: ignores the head's proof, proves with `token`, sends `info`
    pickled as it is (any object)."""
    challenge = handshake.PeerHandshake(token)
    _send(sock, challenge.challenge())
    answer = _recv_frame(sock)
    nonce_p = challenge._nonce_p
    nonce_s = answer[6 : 6 + handshake.NONCE_LEN]
    _send(sock, handshake._proof(token, handshake._PEER, config.PROTOCOL_VERSION, nonce_p, nonce_s))
    _send(sock, pickle.dumps(info))


def _recv_frame(sock: socket.socket) -> bytes:
    import time as _time

    from rayground._core.transport import recv_frame

    data = recv_frame(sock, 1 << 16, _time.monotonic() + 10)
    assert data is not None, "the head sent nothing"
    return data


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_LEN.pack(len(payload)) + payload)


def _tasks_and_jobs() -> tuple[int, int]:
    tasks = json.loads(cli("list", "tasks", "--json", "--limit", "100000").stdout)
    jobs = json.loads(cli("list", "jobs", "--json").stdout)
    return len(tasks), len(jobs)


def test_everything_listens_on_loopback_only(standalone):
    listening = _listening_addresses(standalone.head_pid)
    assert listening, "the head should listen on TCP"
    assert all(ip == "127.0.0.1" for ip, _ in listening), listening
    # Workers accept no connections at all.
    for worker in json.loads(cli("list", "workers", "--json").stdout):
        assert _listening_addresses(worker["pid"]) == []


def test_session_files_are_private(standalone):
    session = Path(standalone.session_dir)
    assert stat.S_IMODE(session.stat().st_mode) == 0o700
    assert stat.S_IMODE((session / "token").stat().st_mode) == 0o600
    assert stat.S_IMODE((session / "head.sock").stat().st_mode) == 0o600
    assert len(standalone.token) >= 64


@pytest.mark.parametrize(
    ("case", "logged"),
    [
        ("no handshake", "a first frame of"),
        ("wrong token", "wrong token"),
        ("empty token", "wrong token"),
        ("right token, evil info", "names a global"),
        ("huge first frame", "a first frame of 2097152 bytes is not a handshake"),
        ("huge proof frame", "a handshake frame of 1073741824 bytes is too long"),
    ],
)
def test_unauthenticated_connections_are_refused_in_one_line(standalone, tmp_path, case, logged):
    marker = tmp_path / "unpickled"
    evil = Marker(marker)
    before_log = len(_log_lines(standalone))
    before = _tasks_and_jobs()
    sock = _connect(standalone)
    try:
        if case == "no handshake":
            _send(sock, pickle.dumps([("submit", evil)]))
        elif case == "wrong token":
            _prove_with(sock, b"f" * len(standalone.token), evil)
        elif case == "empty token":
            _prove_with(sock, b"", {"role": "driver", "client_id": "c-x"})
        elif case == "right token, evil info":
            _prove_with(sock, standalone.token.encode(), evil)
        elif case == "huge first frame":  # no challenge is that big: nothing is buffered
            sock.sendall(_LEN.pack(2 << 20) + b"x" * 1000)
        else:  # a real challenge, then a proof of 1 GiB announced
            _send(sock, handshake.PeerHandshake(b"x").challenge())
            _recv_frame(sock)
            sock.sendall(_LEN.pack(1 << 30) + b"x" * 1000)
        assert _closed_by_peer(sock), "the head kept an unauthenticated connection open"
    finally:
        sock.close()
    assert not marker.exists(), "the head unpickled data from an unauthenticated peer"
    wait_until(lambda: len(_log_lines(standalone)) > before_log, timeout=5)
    new = _log_lines(standalone)[before_log:]
    assert len(new) == 1, new
    assert "refused a connection from ('127.0.0.1'" in new[0]
    assert logged in new[0], new[0]
    assert _tasks_and_jobs() == before  # nothing reached the scheduler


def test_a_peer_of_another_protocol_version_is_refused_naming_both(standalone):
    """A version-1 peer (its HELLO carried the token) and a peer of a future version each get
    one line back, and one line in the head's log, naming both versions."""
    ours = config.PROTOCOL_VERSION
    v1_hello = b"RGH1" + (64).to_bytes(2, "little") + b"t" * 64 + pickle.dumps({"role": "x"})
    future = handshake.MAGIC + (ours + 1).to_bytes(2, "little") + b"n" * handshake.NONCE_LEN
    for first, theirs in ((v1_hello, 1), (future, ours + 1)):
        before_log = len(_log_lines(standalone))
        sock = _connect(standalone)
        try:
            _send(sock, first)
            reply = _recv_frame(sock)
            assert _closed_by_peer(sock)
        finally:
            sock.close()
        expected = f"protocol version {theirs} is not this server's version {ours}"
        assert reply.startswith(handshake.MAGIC_REFUSED)
        assert expected in reply.decode()
        wait_until(lambda b=before_log: len(_log_lines(standalone)) > b, timeout=5)
        new = _log_lines(standalone)[before_log:]
        assert len(new) == 1 and expected in new[0], new


def test_a_silent_connection_does_not_block_others(standalone):
    """A peer that connects and sends nothing must not stall the single-threaded head."""
    idle = _connect(standalone)
    partial = _connect(standalone)
    try:
        partial.sendall(_LEN.pack(handshake.CHALLENGE_LEN) + b"RGHS")  # a challenge cut short
        result = cli("status")
        assert result.returncode == 0, result.stderr
    finally:
        idle.close()
        partial.close()


@pytest.mark.timing  # the hello timeout is the feature: 1 s set, 8 s allowed
def test_a_connection_that_never_authenticates_is_refused(short_root):
    """Silent connections are closed after RAYGROUND_HELLO_TIMEOUT, logged in one line each, so
    they cannot pile up until the head runs out of file descriptors."""
    env = {"RAYGROUND_TMPDIR": short_root, "RAYGROUND_HELLO_TIMEOUT": "1"}
    cluster = start_standalone("--num-cpus", "1", "--object-store-memory", "64MB", **env)
    try:
        before = len(_log_lines(cluster))
        socks = [_connect(cluster) for _ in range(3)]
        try:
            socks[2].sendall(_LEN.pack(handshake.CHALLENGE_LEN) + b"RGHS")  # never finished
            started = time.monotonic()
            assert all(_closed_by_peer(s, timeout=10) for s in socks)
            assert time.monotonic() - started < 8
        finally:
            for s in socks:
                s.close()
        wait_until(lambda: len(_log_lines(cluster)) >= before + 3, timeout=5)
        new = _log_lines(cluster)[before:]
        assert len(new) == 3 and all("no handshake within 1 s" in line for line in new), new
        assert cli("status", **env).returncode == 0  # real clients are unaffected
    finally:
        assert cli("stop", **env).returncode == 0
        wait_until(lambda: not process_alive(cluster.head_pid), timeout=15)


def _random_value(rng: random.Random, depth: int = 0) -> object:
    choice = rng.randrange(12 if depth < 3 else 7)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([0, 1, -1, 2**63, -(2**70), rng.randrange(-1000, 1000)])
    if choice == 2:
        return rng.choice([0.0, float("nan"), float("inf"), -1.5, 1e300])
    if choice == 3:
        # Only letters, digits and '-': names that stay inside the session's directories.
        alphabet = "abcdefotw0123456789-"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 20)))
    if choice == 4:
        return rng.randbytes(rng.randrange(0, 64))
    if choice == 5:
        return rng.choice([True, False])
    if choice == 6:
        return rng.choice(["o1", "t1.0", "a1.h", "c-1", "w-1", "", "x" * 300])
    if choice == 7:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if choice == 8:
        return tuple(_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4)))
    if choice == 9:
        return {_random_key(rng): _random_value(rng, depth + 1) for _ in range(rng.randrange(5))}
    if choice == 10:  # descs: inline, shared memory (names without '/'), error
        return rng.choice(
            [("i", rng.randbytes(8)), ("s", "nope", 10), ("e", b"junk"), ("i",), ("s",), ("q", 1)]
        )
    return _random_spec(rng)


def _random_key(rng: random.Random) -> object:
    return rng.choice(
        [
            "task_id",
            "returns",
            "deps",
            "contained",
            "resources",
            "actor_id",
            "fn_id",
            "args",
            "kind",
            "name",
            "max_retries",
            "generator",
            "lifetime",
            "namespace",
            "limit",
            1,
            None,
        ]
    )


def _random_spec(rng: random.Random) -> dict:
    spec: dict = {
        "task_id": f"tfuzz-{rng.randrange(50)}",
        "name": "fuzz",
        "kind": rng.choice(["task", "actor_create", "actor_call", "other"]),
        "fn_id": f"f{rng.randrange(5)}",
        "returns": [f"tfuzz-{rng.randrange(50)}.0"],
        "deps": rng.choice([[], ["o1"], [f"tfuzz-{rng.randrange(50)}.0"]]),
        "resources": rng.choice([{}, {"CPU": 1}, {"CPU": -1}, {"GPU": 1e9}, {"x": "y"}]),
        "job_id": "00000001",
    }
    for key in rng.sample(sorted(spec), rng.randrange(3)):
        del spec[key]
    for _ in range(rng.randrange(3)):
        spec[_random_key(rng)] = _random_value(rng, 3)
    return spec


_KINDS = [
    value for name, value in vars(protocol).items() if name.isupper() and isinstance(value, str)
]
# "request stop" is allowed to an authenticated peer (it is how a cluster is stopped), so the
# fuzzer asks for every other request.
_REQUESTS = [
    "status",
    "list_tasks",
    "list_actors",
    "list_objects",
    "memory",
    "get_actor",
    "actor_state",
    "create_actor",
    "make_room",
    "nodes",
    "bogus",
]


def _random_frame(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.15:
        return rng.randbytes(rng.randrange(0, 200))  # not a pickle at all
    if roll < 0.25:
        return pickle.dumps(_random_value(rng))  # not a list of messages
    messages = []
    for _ in range(rng.randrange(1, 5)):
        kind = rng.choice([*_KINDS, "nonsense", 7])
        if kind == protocol.REQUEST:
            args = [rng.randrange(10**6), rng.choice(_REQUESTS), _random_value(rng)]
        else:
            args = [_random_value(rng) for _ in range(rng.randrange(0, 6))]
        messages.append((kind, *args))
    data = pickle.dumps(messages, protocol=5)
    if rng.random() < 0.1:
        data = data[: rng.randrange(len(data))]  # truncated pickle inside a whole frame
    return data


def _random_info(rng: random.Random, client_id: str, worker_ids: list[str]) -> dict:
    """A handshake INFO for every role the head serves: mostly well formed (so the frames after
    it reach that role's handlers), sometimes not (then the head refuses the peer)."""
    role = rng.choice(["driver", "observer", "worker", "client", "node"])
    info: dict = {"role": role, "client_id": client_id, "pid": rng.randrange(1, 1 << 22)}
    if role == "worker":
        # A live worker's id (the head must not let a second connection take it over), or
        # an unknown one.
        info["worker_id"] = rng.choice([*worker_ids, "w-nobody"])
    elif role == "node":
        info.update(
            node_id=f"nfuzz{rng.randrange(10**9)}",
            node_ip="127.0.0.1",
            shm_dir="/nonexistent",
            machine=f"m-fuzz{rng.randrange(4)}",
            resources=rng.choice(
                [
                    {"CPU": 1},
                    {"CPU": 0},
                    {"CPU": float("nan")},
                    {"CPU": float("inf")},
                    {"CPU": 1e300},
                    {"CPU": -1},
                    {"GPU": "x"},
                    {},
                ]
            ),
        )
    elif role == "driver":
        info.update(sys_path=[], namespace=rng.choice(["ns", None, 7]), log_to_driver=True)
    if rng.random() < 0.2:
        info[_random_key(rng)] = _random_value(rng)  # an unknown or a wrongly typed field
    return info


def test_thousands_of_random_frames_do_not_break_the_head(short_root, tmp_path):
    """An authenticated peer sends 3,000 hostile frames; the cluster must still work after."""
    env = {"RAYGROUND_TMPDIR": short_root}
    cluster = start_standalone("--num-cpus", "2", "--object-store-memory", "64MB", **env)
    try:
        seed = int(os.environ.get("RAYGROUND_FUZZ_SEED", "1234"))
        rng = random.Random(seed)
        listed = json.loads(cli("list", "workers", "--json", **env).stdout)
        worker_ids = [w["worker_id"] for w in listed]
        assert worker_ids
        sent = 0
        deadline = time.monotonic() + 60
        while sent < 3000 and time.monotonic() < deadline:
            sock = _connect(cluster)
            try:
                _join(sock, cluster.token, _random_info(rng, f"c-f{sent}", worker_ids))
                for _ in range(200):
                    _send(sock, _random_frame(rng))
                    sent += 1
                ending = rng.choice(["close", "truncated", "oversized"])
                if ending == "truncated":  # a frame cut off by the connection closing
                    sock.sendall(_LEN.pack(5000) + b"partial")
                elif ending == "oversized":
                    sock.sendall(_LEN.pack(config.MAX_FRAME + 1))
                    assert _closed_by_peer(sock), "an oversized frame must end the connection"
            except (BrokenPipeError, ConnectionResetError):
                pass  # the head may drop a peer that sent something unusable
            finally:
                sock.close()
            assert process_alive(cluster.head_pid), f"head died (seed {seed}, frame ~{sent})"
        assert sent >= 3000, f"only {sent} frames in 60 s"
        # The cluster still works for a real driver: tasks, an actor, a large object.
        check = """
import numpy as np
import rayground as ray
ray.init(address="auto")

@ray.remote
def double(x):
    return 2 * x

@ray.remote
class Acc:
    def __init__(self):
        self.total = 0
    def add(self, x):
        self.total += x
        return self.total

assert ray.get([double.remote(i) for i in range(200)]) == [2 * i for i in range(200)]
acc = Acc.remote()
assert ray.get([acc.add.remote(1) for _ in range(20)])[-1] == 20
arr = ray.get(double.remote(ray.put(np.ones(500_000))))
assert arr.sum() == 1_000_000
print("CLUSTER OK")
"""
        from _cluster import run_driver

        result = run_driver(tmp_path, check, timeout=60, **env)
        assert "CLUSTER OK" in result.stdout, result.stderr[-3000:]
        status = cli("status", **env)
        assert status.returncode == 0, status.stderr
        assert process_alive(cluster.head_pid)
        log = cluster.head_log.read_text(errors="replace")
        assert "Traceback" not in log or "error handling a frame" in log
    finally:
        result = cli("stop", **env)
        assert result.returncode == 0, result.stderr
        wait_until(lambda: not process_alive(cluster.head_pid), timeout=15)


def _listening_addresses(pid: int) -> list[tuple[str, int]]:
    """(ip, port) of TCP sockets in LISTEN state that process `pid` holds (from /proc)."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            hex_ip, hex_port = local.split(":")
            if width == 8:
                ip = socket.inet_ntop(socket.AF_INET, bytes.fromhex(hex_ip)[::-1])
            else:
                raw = bytes.fromhex(hex_ip)
                ip = socket.inet_ntop(
                    socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                )
            found.append((ip, int(hex_port, 16)))
    return found


@pytest.mark.parametrize("kind", ["s-relative", "s-absolute", "f-outside"])
def test_descs_cannot_name_files_outside_the_session(standalone, tmp_path, kind):
    """An authenticated peer cannot make the head recycle or unlink a file it names: a desc may
    only point into the session's own shared-memory and spill directories. (Every desc here
    names a file of the test's own: were the check missing, that file is what would go.)"""
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    shm_dir = f"/dev/shm/rayground-{os.path.basename(standalone.session_dir)}"
    desc = {
        "s-relative": ("s", os.path.relpath(victim, shm_dir), 5),  # climbs out of the shm dir
        "s-absolute": ("s", str(victim), 5),
        "f-outside": ("f", str(victim), 5),  # a "spilled" file outside the spill directory
    }[kind]
    sock = _connect(standalone)
    try:
        _join(sock, standalone.token, {"role": "driver", "client_id": "c-evil"})
        # Store the object, then drop the only reference: a freed object's file is removed.
        _send(sock, pickle.dumps([("put", "o-evil", desc, []), ("decref", ["o-evil"])]))
        _send(sock, pickle.dumps([("goodbye",)]))
        assert _closed_by_peer(sock)
    finally:
        sock.close()
    assert victim.read_text() == "keep me"
    assert process_alive(standalone.head_pid)
    assert cli("status").returncode == 0


def test_message_checks_pass_real_messages_and_stop_malformed_ones():
    ok = [
        ("submit", {"task_id": "t1", "returns": ["t1.0"], "args": ("i", b"x"), "deps": []}),
        ("put", "o1", ("s", "o1", 200_000), []),
        ("done", "t1", [("i", b"1")], [[]]),
        ("want", ["o1"], False),
        ("goodbye",),
        ("some_future_kind", 1, 2, 3),  # unknown kinds pass (compatibility rule)
    ]
    for msg in ok:
        assert schema.message_problem(msg) is None, msg
    bad = [
        ("submit", {"task_id": "t1"}),  # no returns
        ("submit", {"task_id": "t1", "returns": [1]}),
        ("put", "o1", ("s", "../x", 10), []),
        ("put", "o1", ("f", "/somewhere/else", 10), []),
        ("put", "o1", True, []),
        ("done", "t1", [("q",)], [[]]),
        ("incref", "o1"),  # a str, not a list of ids
        ("cancel",),
        (7, "kind is not a str"),
        ["submit"],
    ]
    for msg in bad:
        assert schema.message_problem(msg) is not None, msg
