"""Starting a local head, finding a running one, and cleaning up after any that died.

Every session of a user lives under that user's own session root (config.session_root():
`$XDG_RUNTIME_DIR/rayground` or `<tmp>/rayground-<uid>`, 0700, its owner and mode checked on
every use: `private_root`). A session is `<root>/session_<time>_<pid>_<random>/` (0700):
`token` (0600), `head.sock`, `head.json` (pid, start time, addresses; written atomically by the
head), `logs/`, `spill/`; `<root>/latest` names the newest (also written atomically). Its shared
memory is a directory `<shm>/rayground-<session>/`, made here, owner-only and exclusively,
before the head starts: nothing names it in public (the head's command line) before it exists,
so no other user can create it first. The head removes the shared memory when it exits; a head
that was SIGKILLed cannot, so every `init()`, `rayground start` and `rayground stop` first sweeps
this user's sessions whose head is gone, and keeps only the newest KEEP_SESSIONS of those
directories (for their logs).

A pid read from head.json or node.json is signalled only once it is proved to be that very
process (ownership.signal_our_process): owned by us, same start time, same command.

A cluster started by `init()` dies with its driver: the head watches the driver's pid through a
pidfd (even SIGKILL of the driver is seen), and every worker watches the head's.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from . import config, ids, ownership, tls
from .transport import write_token_file

HEAD_COMMAND = "rayground._core.head"
NODE_COMMAND = "rayground._core.node"


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


def private_root(create: bool = True) -> str | None:
    """This user's session root, checked (ours, not a symlink, 0700) on every use; created if
    missing when `create`, else None if missing. Raises ownership.UnsafePathError, naming the
    path and why, for a root that another user made or that others may write."""
    root = config.session_root()
    if create:
        ownership.ensure_private_dir(root, "the session root")
        return root
    if not os.path.lexists(root):
        return None
    ownership.check_private_dir(root, "the session root")
    return root


def _session_name(prefix: str) -> str:
    # The random part keeps the name (and the shared-memory directory named after it) unknown
    # to other users until both exist.
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    return f"{prefix}_{stamp}_{os.getpid()}_{ids.random_hex(3)}"


def new_session_dir(prefix: str) -> str:
    """A new, empty, owner-only session (or node) directory with its `logs/`, under the root."""
    root = private_root()
    assert root is not None
    session_dir = os.path.join(root, _session_name(prefix))
    ownership.make_private_dir(session_dir, "a new session directory")
    ownership.make_private_dir(os.path.join(session_dir, "logs"), "the session's logs")
    return session_dir


def _read_info(path: str) -> tuple[dict[str, Any], int] | None:
    """A head.json or node.json and the pid it names; None if missing, unreadable or not ours."""
    try:
        info = json.loads(ownership.read_private(path))
        return info, int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _start_ticks(info: dict[str, Any]) -> int | None:
    ticks = info.get("start_ticks")
    # None: written by a rayground that recorded no start time; then the owner and the command
    # line (which names the session directory, for a head) are the proof.
    return ticks if isinstance(ticks, int) else None


def _is_live(session_dir: str, info: dict[str, Any], pid: int) -> bool:
    """Whether the head (or node) that wrote `info` is still that process (not a pid reuse)."""
    return ownership.is_our_process(pid, _start_ticks(info), command_marker(session_dir))


def _mtime(path: str) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return 0.0  # removed meanwhile (a sweep in another process)


def command_marker(session_dir: str) -> str:
    # What a head's (and its forked workers') command line holds; a node's names only its role.
    if os.path.basename(session_dir).startswith("node_"):
        return NODE_COMMAND
    return f"{HEAD_COMMAND} --session-dir {session_dir} "


def shm_dir_for(session_dir: str) -> str:
    return os.path.join(config.shm_root(), f"rayground-{os.path.basename(session_dir)}")


def make_shm_dir(session_dir: str) -> str:
    """Create the session's shared-memory directory: owner-only, and exclusively, so one that
    another user made first under this name is refused rather than adopted."""
    shm_dir = shm_dir_for(session_dir)
    ownership.make_private_dir(shm_dir, "the shared-memory directory")
    return shm_dir


def remove_shm_dir(shm_dir: str) -> bool:
    """Remove a shared-memory directory if it is ours (never one another user put there).
    rmtree does not follow symlinks inside it. True if something was removed."""
    try:
        st = os.lstat(shm_dir)
    except FileNotFoundError:
        return False
    if not os.path.isdir(shm_dir) or os.path.islink(shm_dir) or st.st_uid != os.geteuid():
        return False
    shutil.rmtree(shm_dir, ignore_errors=True)
    return True


# A head that is starting has made its session directory but not yet written head.json; the
# sweep leaves such a directory alone for this long (the start timeout, with room).
_STARTING_GRACE_S = 120.0


def _session_state(session_dir: str) -> str:
    """ "live", "starting" or "dead" (see sweep_stale_sessions)."""
    info_name = "node.json" if os.path.basename(session_dir).startswith("node_") else "head.json"
    read = _read_info(os.path.join(session_dir, info_name))
    if read is not None:
        return "live" if _is_live(session_dir, *read) else "dead"
    try:
        age = time.time() - os.lstat(session_dir).st_mtime
    except OSError:
        return "dead"
    return "starting" if age < _STARTING_GRACE_S else "dead"


def sweep_stale_sessions(keep: int | None = None) -> list[str]:
    """Clean up after this user's sessions (and nodes) whose process is gone: remove their
    shared memory and socket, and remove all but the newest `keep` (default KEEP_SESSIONS)
    of their directories. Returns the paths removed."""
    keep = config.KEEP_SESSIONS if keep is None else keep
    root = private_root(create=False)
    if root is None:
        return []
    removed = []
    dead = []
    for name in os.listdir(root):
        if not name.startswith(("session_", "node_")):
            continue
        session_dir = os.path.join(root, name)
        try:
            st = os.lstat(session_dir)
        except OSError:
            continue
        if not os.path.isdir(session_dir) or os.path.islink(session_dir):
            continue
        if st.st_uid != os.geteuid() or _session_state(session_dir) != "dead":
            continue
        dead.append((st.st_mtime, session_dir))
        shm = shm_dir_for(session_dir)
        if remove_shm_dir(shm):
            removed.append(shm)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(session_dir, "head.sock"))
    dead.sort(reverse=True)
    for _, session_dir in dead[keep:]:
        shutil.rmtree(session_dir, ignore_errors=True)
        removed.append(session_dir)
    return removed + _trim_node_logs(root, keep)


def _trim_node_logs(root: str, keep: int) -> list[str]:
    """Remove all but the newest `keep` logs of `start_node` (`<root>/node-*.log`), never one
    that a live node still writes to (its stderr)."""
    logs = sorted(
        (os.path.join(root, n) for n in os.listdir(root) if n.startswith("node-")),
        key=_mtime,
        reverse=True,
    )[keep:]
    if not logs:
        return []
    in_use = set()
    for node in list_local_nodes():
        with contextlib.suppress(OSError):
            in_use.add(os.readlink(f"/proc/{node.pid}/fd/2"))
    removed = []
    for log in logs:
        if log.endswith(".log") and log not in in_use:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(log)
            removed.append(log)
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
    use_tls: bool = False,
) -> LocalHead:
    if use_tls and port is None:
        raise ValueError("TLS is for clusters other machines join: give a port with it (--port)")
    root = private_root()
    assert root is not None
    sweep_stale_sessions()
    session_dir = new_session_dir("session")
    token = ids.random_hex(32).encode()
    if use_tls:
        # The token pins the certificate: whoever holds it knows which one the head shows.
        token += (tls.PIN_MARK + tls.make_certificate(session_dir).fingerprint).encode()
    write_token_file(os.path.join(session_dir, "token"), token)
    # Made before the head starts: its command line (readable by every user) names it.
    try:
        shm_dir = make_shm_dir(session_dir)
    except OSError:
        shutil.rmtree(session_dir, ignore_errors=True)  # nothing ran in it yet
        raise
    cmd = [
        sys.executable,
        "-m",
        HEAD_COMMAND,
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
    log = ownership.open_log(os.path.join(session_dir, "logs", "head.log"))
    try:
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
    except BaseException:
        remove_shm_dir(shm_dir)
        raise
    finally:
        os.close(log)
    endpoints = _wait_ready(proc, session_dir, timeout)
    tcp = next((e for e in endpoints if e.startswith("tcp://")), None)
    ownership.write_atomically(os.path.join(root, "latest"), session_dir.encode())
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
    cmd = [sys.executable, "-m", NODE_COMMAND, "--address", address]
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
    root = private_root()
    assert root is not None
    sweep_stale_sessions()
    log_path = log_path or os.path.join(root, f"node-{os.getpid()}-{ids.random_hex(3)}.log")
    log = ownership.open_log(log_path)
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    finally:
        os.close(log)
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
    remove_shm_dir(shm_dir)


@dataclass
class SessionInfo:
    """A live cluster on this machine, as its head described itself in head.json."""

    session_dir: str
    pid: int
    addresses: list[str]
    node_id: str
    owner_pid: int | None
    started: float
    start_ticks: int | None = None

    @property
    def address(self) -> str:
        return self.addresses[0]

    @property
    def tcp_address(self) -> str | None:
        return next((a for a in self.addresses if a.startswith("tcp://")), None)

    def read_token(self) -> bytes:
        return ownership.read_private(os.path.join(self.session_dir, "token")).strip()

    def signal(self, sig: int) -> bool:
        """Send `sig` to this head if it is still the process head.json recorded."""
        return ownership.signal_our_process(
            self.pid, self.start_ticks, command_marker(self.session_dir), sig
        )


def _latest(root: str) -> str | None:
    """The session `<root>/latest` names, if it names one directly under the root."""
    try:
        named = ownership.read_private(os.path.join(root, "latest")).decode().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if os.path.dirname(named) != root or not os.path.basename(named).startswith("session_"):
        return None
    return named


def list_local_sessions() -> list[SessionInfo]:
    """Live clusters of this user on this machine, newest first (the `latest` one leads)."""
    root = private_root(create=False)
    if root is None:
        return []
    latest = _latest(root)
    candidates = [latest] if latest else []
    others = sorted(
        (os.path.join(root, n) for n in os.listdir(root) if n.startswith("session_")),
        key=_mtime,
        reverse=True,
    )
    candidates += [c for c in others if c not in candidates]
    found = []
    for session_dir in candidates:
        read = _read_info(os.path.join(session_dir, "head.json"))
        if read is None or not _is_live(session_dir, *read):
            continue
        info, pid = read
        found.append(
            SessionInfo(
                session_dir=session_dir,
                pid=pid,
                addresses=list(info["addresses"]),
                node_id=str(info.get("node_id", "")),
                owner_pid=info.get("owner_pid"),
                started=float(info.get("started") or _mtime(session_dir)),
                start_ticks=_start_ticks(info),
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
    start_ticks: int | None = None

    def signal(self, sig: int) -> bool:
        """Send `sig` to this node if it is still the process node.json recorded."""
        return ownership.signal_our_process(self.pid, self.start_ticks, NODE_COMMAND, sig)


def list_local_nodes() -> list[NodeInfo]:
    root = private_root(create=False)
    found: list[NodeInfo] = []
    if root is None:
        return found
    for name in sorted(os.listdir(root)):
        if not name.startswith("node_"):
            continue
        session_dir = os.path.join(root, name)
        read = _read_info(os.path.join(session_dir, "node.json"))
        if read is not None and _is_live(session_dir, *read):
            info, pid = read
            found.append(
                NodeInfo(
                    session_dir,
                    pid,
                    str(info.get("node_id", "")),
                    str(info.get("head")),
                    _start_ticks(info),
                )
            )
    return found


def write_info(path: str, info: dict[str, Any]) -> None:
    """head.json / node.json: written by the head or node itself, with the stamp (pid and start
    time) that later proves a pid is still that process, atomically (never half a file)."""
    record = {**ownership.this_process().to_json(), **info}
    ownership.write_atomically(path, json.dumps(record).encode())


def find_local_session() -> tuple[str, bytes, int] | None:
    """The most recent live session on this machine: (ipc address, token, head pid)."""
    for session in list_local_sessions():
        try:
            return session.address, session.read_token(), session.pid
        except OSError:
            continue
    return None
