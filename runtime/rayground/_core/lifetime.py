"""Starting a local head, finding a running one, and cleaning up after any that died.

A session lives in `<tmp>/rayground/session_<time>_<pid>/` (0700): `token` (0600), `head.sock`,
`head.json` (pid and addresses), `logs/`, `spill/`. Its shared memory is a directory
`/dev/shm/rayground-<session>/`. The head removes the shared memory when it exits; a head that
was SIGKILLed cannot, so every `init()` first sweeps sessions whose head is gone.

A cluster started by `init()` dies with its driver: the head watches the driver's pid through a
pidfd (even SIGKILL of the driver is seen), and every worker watches the head's.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from . import config, ids
from .transport import write_token_file


@dataclass
class LocalHead:
    session_dir: str
    shm_dir: str
    address: str
    token: bytes
    proc: subprocess.Popen | None
    pid: int
    tcp_address: str | None = None


def pid_alive(pid: int) -> bool:
    """Whether process `pid` is running (one that exited but was not reaped yet is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A head that exited but was not reaped yet (its parent, e.g. `rayground start`, is gone and
    # init is slow to reap) is a zombie: dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _read_info(path: str) -> tuple[dict[str, Any], int] | None:
    """A head.json or node.json and the pid it names; None if missing or unreadable."""
    try:
        with open(path) as f:
            info = json.load(f)
        return info, int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def shm_dir_for(session_dir: str) -> str:
    return os.path.join(config.shm_root(), f"rayground-{os.path.basename(session_dir)}")


def sweep_stale_sessions() -> list[str]:
    """Remove shared memory (and sockets) of sessions whose head process is gone."""
    root = config.session_root()
    removed = []
    if not os.path.isdir(root):
        return removed
    for name in os.listdir(root):
        session_dir = os.path.join(root, name)
        info_name = "head.json" if name.startswith("session_") else "node.json"
        info_path = os.path.join(session_dir, info_name)
        if not name.startswith(("session_", "node_")) or not os.path.isfile(info_path):
            continue
        read = _read_info(info_path)
        if read is None or pid_alive(read[1]):
            continue
        shm = shm_dir_for(session_dir)
        if os.path.isdir(shm):
            shutil.rmtree(shm, ignore_errors=True)
            removed.append(shm)
        for leftover in ("head.sock", info_name):
            try:
                os.unlink(os.path.join(session_dir, leftover))
            except FileNotFoundError:
                pass
    return removed


def start_head(
    *,
    num_cpus: float,
    num_gpus: float,
    gpu_ids: list[str],
    resources: dict[str, float],
    object_store_memory: int,
    owner_pid: int | None,
    port: int | None = None,
    node_ip_address: str = "127.0.0.1",
    sys_path: list[str] | None = None,
    cwd: str | None = None,
    timeout: float = 30.0,
) -> LocalHead:
    sweep_stale_sessions()
    root = config.session_root()
    os.makedirs(root, mode=0o700, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    session_dir = os.path.join(root, f"session_{stamp}_{os.getpid()}_{ids.random_hex(3)}")
    os.makedirs(session_dir, mode=0o700)
    os.makedirs(os.path.join(session_dir, "logs"), mode=0o700)
    token = ids.random_hex(32).encode()
    write_token_file(os.path.join(session_dir, "token"), token)
    shm_dir = shm_dir_for(session_dir)
    cmd = [
        sys.executable,
        "-m",
        "rayground._core.head",
        "--session-dir",
        session_dir,
        "--shm-dir",
        shm_dir,
        "--num-cpus",
        str(num_cpus),
        "--num-gpus",
        str(num_gpus),
        "--gpu-ids",
        json.dumps(gpu_ids),
        "--resources",
        json.dumps(resources),
        "--object-store-memory",
        str(int(object_store_memory)),
        "--node-ip-address",
        node_ip_address,
        "--sys-path",
        json.dumps(sys_path or []),
    ]
    if owner_pid is not None:
        cmd += ["--owner-pid", str(owner_pid)]
    if port is not None:
        cmd += ["--port", str(port)]
    if cwd:
        cmd += ["--cwd", cwd]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [p for p in [_package_parent(), env.get("PYTHONPATH", "")] if p]
    )
    with open(os.path.join(session_dir, "logs", "head.log"), "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,  # a notebook's interrupt (SIGINT to its group) must not hit us
            close_fds=True,
            env=env,
            cwd=cwd or None,
        )
    endpoints = _wait_ready(proc, session_dir, timeout)
    tcp = next((e for e in endpoints if e.startswith("tcp://")), None)
    with open(os.path.join(root, "latest"), "w") as f:
        f.write(session_dir)
    return LocalHead(session_dir, shm_dir, endpoints[0], token, proc, proc.pid, tcp)


@dataclass
class LocalNode:
    proc: subprocess.Popen
    node_id: str
    log_path: str


def start_node(
    address: str,
    token: bytes,
    *,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    resources: dict[str, float] | None = None,
    object_store_memory: int | None = None,
    node_ip_address: str = "127.0.0.1",
    log_path: str | None = None,
    timeout: float = 30.0,
) -> LocalNode:
    """Start a node process on this machine that joins the head at `address` (node.py)."""
    cmd = [sys.executable, "-m", "rayground._core.node", "--address", address]
    cmd += ["--resources", json.dumps(resources or {}), "--node-ip-address", node_ip_address]
    if num_cpus is not None:
        cmd += ["--num-cpus", str(num_cpus)]
    if num_gpus is not None:
        cmd += ["--num-gpus", str(num_gpus)]
    if object_store_memory is not None:
        cmd += ["--object-store-memory", str(int(object_store_memory))]
    env = dict(os.environ)
    env["RAYGROUND_TOKEN"] = token.decode()
    env["PYTHONPATH"] = os.pathsep.join(
        [p for p in [_package_parent(), env.get("PYTHONPATH", "")] if p]
    )
    root = config.session_root()
    os.makedirs(root, mode=0o700, exist_ok=True)
    log_path = log_path or os.path.join(root, f"node-{os.getpid()}-{ids.random_hex(3)}.log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    ready = _read_ready_line(proc, timeout)
    if ready is not None:
        return LocalNode(proc, ready["node_id"], log_path)
    stop_process(proc)
    with open(log_path) as f:
        lines = [line.strip() for line in f.read().splitlines() if line.strip()]
    last = lines[-1].removeprefix("rayground: ") if lines else "it exited without a word"
    # One line (the CLI shows only the first): the node's own last words, then where its log is.
    raise ConnectionError(f"the node did not join {address}: {last} (log: {log_path})")


def stop_process(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _read_ready_line(proc: subprocess.Popen, timeout: float) -> Any:
    """The JSON after `READY ` on the child's stdout (head and node print it when they serve),
    or None if it exited or stayed silent for `timeout` seconds."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline()
            if line.startswith(b"READY "):
                proc.stdout.close()
                return json.loads(line[6:])
            if not line:
                return None
        if proc.poll() is not None:
            return None
    return None


def _package_parent() -> str:
    # So the head and workers import this same rayground even when it is not installed.
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _wait_ready(proc: subprocess.Popen, session_dir: str, timeout: float) -> list[str]:
    ready = _read_ready_line(proc, timeout)
    if ready is not None:
        return list(ready)
    log = os.path.join(session_dir, "logs", "head.log")
    try:
        with open(log) as f:
            tail = f.read()[-2000:]
    except OSError:
        tail = ""
    stop_head(proc, shm_dir_for(session_dir))
    raise RuntimeError(
        f"The rayground head did not start (exit code {proc.poll()}). Its log ({log}) ends "
        f"with:\n{tail}"
    )


def stop_head(proc: subprocess.Popen | None, shm_dir: str, grace: float = 3.0) -> None:
    if proc is not None:
        stop_process(proc, grace)
    # The head removes its shared memory on a clean exit; make sure even after a crash.
    shutil.rmtree(shm_dir, ignore_errors=True)


@dataclass
class SessionInfo:
    """A live cluster on this machine, as its head described itself in head.json."""

    session_dir: str
    pid: int
    addresses: list[str]
    node_id: str
    owner_pid: int | None
    started: float

    @property
    def address(self) -> str:
        return self.addresses[0]

    @property
    def tcp_address(self) -> str | None:
        return next((a for a in self.addresses if a.startswith("tcp://")), None)

    def read_token(self) -> bytes:
        with open(os.path.join(self.session_dir, "token"), "rb") as f:
            return f.read().strip()


def list_local_sessions() -> list[SessionInfo]:
    """Live clusters of this user on this machine, newest first (the `latest` one leads)."""
    root = config.session_root()
    candidates = []
    latest = os.path.join(root, "latest")
    if os.path.isfile(latest):
        with open(latest) as f:
            candidates.append(f.read().strip())
    if os.path.isdir(root):
        others = sorted(
            (os.path.join(root, n) for n in os.listdir(root) if n.startswith("session_")),
            key=lambda p: os.path.getmtime(p),
            reverse=True,
        )
        candidates += [c for c in others if c not in candidates]
    found = []
    for session_dir in candidates:
        read = _read_info(os.path.join(session_dir, "head.json"))
        if read is None or not pid_alive(read[1]):
            continue
        info, pid = read
        found.append(
            SessionInfo(
                session_dir=session_dir,
                pid=pid,
                addresses=list(info["addresses"]),
                node_id=str(info.get("node_id", "")),
                owner_pid=info.get("owner_pid"),
                started=float(info.get("started") or os.path.getmtime(session_dir)),
            )
        )
    return found


@dataclass
class NodeInfo:
    """A live node process (`rayground start --address`) on this machine, from its node.json."""

    session_dir: str
    pid: int
    node_id: str
    head: str


def list_local_nodes() -> list[NodeInfo]:
    root = config.session_root()
    found = []
    if not os.path.isdir(root):
        return found
    for name in sorted(os.listdir(root)):
        if not name.startswith("node_"):
            continue
        session_dir = os.path.join(root, name)
        read = _read_info(os.path.join(session_dir, "node.json"))
        if read is not None and pid_alive(read[1]):
            info, pid = read
            found.append(
                NodeInfo(session_dir, pid, str(info.get("node_id", "")), str(info.get("head")))
            )
    return found


def find_local_session() -> tuple[str, bytes, int] | None:
    """The most recent live session on this machine: (ipc address, token, head pid)."""
    for session in list_local_sessions():
        try:
            return session.address, session.read_token(), session.pid
        except OSError:
            continue
    return None
