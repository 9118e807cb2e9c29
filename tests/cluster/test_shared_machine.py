"""A cluster on a machine shared with other users (issue 12, the filesystem half).

Each test replays what a hostile classmate did on the code before the fix, as a real second Unix
user made for the test (tests/cluster/_users.py): pre-create the shared-memory directory, the
session root, a `latest` symlink, a fake head. The victim (this test's user) must refuse with a
message naming the path and why, or be unaffected; the attacker's pickle must never run.
Also here: file modes, the crash sweep and the bounded number of old sessions.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from _cluster import child_env, cli
from _users import LocalUser, as_user, create_user, delete_user, spawn_as, why_no_second_user

from _needs import missing, needs
from _procs import process_alive, wait_until
from rayground._core import lifetime, ownership
from rayground._core.serialization import serialize

ATTACKER_REASON = why_no_second_user()
needs_attacker = needs(ATTACKER_REASON)


class Marker:
    """Unpickling this creates a file: proof that the attacker's pickle ran in the victim."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def attacker() -> Iterator[LocalUser]:
    if ATTACKER_REASON is not None:
        missing(ATTACKER_REASON)
    user = create_user()
    try:
        yield user
    finally:
        delete_user(user)


def _shared_dir(parent: str, prefix: str) -> str:
    """A directory every user may write, sticky as /tmp and /dev/shm are."""
    path = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(path, 0o1777)
    return path


@pytest.fixture
def shared_tmp() -> Iterator[str]:
    """Stands in for /tmp: the victim's TMPDIR (short: it holds a Unix socket path)."""
    path = _shared_dir("/tmp", "rgs-")
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", path], timeout=30)


@pytest.fixture
def shared_shm() -> Iterator[str]:
    """Stands in for /dev/shm: the victim's RAYGROUND_SHM_DIR."""
    parent = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"
    path = _shared_dir(parent, "rgt-shm-")
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", path], timeout=30)


def _victim_env(**extra: str) -> dict[str, str]:
    """The victim's environment with the defaults of a fresh login: no RAYGROUND_TMPDIR, no
    XDG_RUNTIME_DIR, so the session root is <TMPDIR>/rayground-<uid>."""
    env = child_env(**extra)
    for name in ("RAYGROUND_TMPDIR", "XDG_RUNTIME_DIR"):
        if name not in extra:
            env.pop(name, None)
    return env


def _run(argv: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )


def _rayground(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "rayground", *args], env)


def _python(source: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-c", textwrap.dedent(source)], env)


def _start_head(num_cpus: float = 1, port: int | None = None) -> lifetime.LocalHead:
    """A head started in this process's way (as `init()` does), owned by the test process."""
    return lifetime.start_head(
        num_cpus=num_cpus,
        num_gpus=0,
        gpu_ids=[],
        resources={},
        object_store_memory=64 * 1024**2,
        owner_pid=os.getpid(),
        port=port,
    )


# ---------------------------------------------------------------------------- hole 2
@needs_attacker
def test_a_session_root_planted_by_another_user_is_refused(attacker, shared_tmp, tmp_path):
    """The attacker creates the victim's session root first (and the old shared one), with a
    `latest` symlink to a file of the victim's and a fake head whose pid is the attacker's own
    process. Nothing the victim runs may use it: start, init, init("auto"), stop all refuse,
    naming the path; the symlinked file is untouched; the fake head is never contacted and its
    process never signalled."""
    victim_file = tmp_path / "victim-file"
    victim_file.write_text("keep me")
    fake_head = socket.socket()
    fake_head.bind(("127.0.0.1", 0))
    fake_head.listen(8)
    fake_head.setblocking(False)
    port = fake_head.getsockname()[1]
    sleeper = spawn_as(attacker, ["sleep", "120"])
    try:
        wait_until(lambda: ownership.process_start_ticks(sleeper.pid) is not None, timeout=10)
        ticks = ownership.process_start_ticks(sleeper.pid)
        uid = os.geteuid()
        roots = [Path(shared_tmp, f"rayground-{uid}"), Path(shared_tmp, "rayground")]

        def plant() -> None:
            for root in roots:
                os.mkdir(root)
                os.chmod(root, 0o777)
                os.symlink(victim_file, root / "latest")
                fake = root / "session_2020-01-01_00-00-00_1_abcdef"
                os.mkdir(fake)
                os.chmod(fake, 0o777)
                head = {
                    "pid": sleeper.pid,
                    "start_ticks": ticks,
                    "addresses": [f"tcp://127.0.0.1:{port}"],
                    "node_id": "fake",
                    "owner_pid": None,
                    "started": 0,
                }
                (fake / "head.json").write_text(json.dumps(head))
                (fake / "token").write_text("the attacker's token")

        as_user(attacker, plant)
        env = _victim_env(TMPDIR=shared_tmp)
        refusal = f"refuses to use the session root {roots[0]}"

        start = _rayground("start", "--head", "--port", "0", "--num-cpus", "1", env=env)
        assert start.returncode == 1, start.stdout + start.stderr
        assert start.stderr.count("\n") == 1 and refusal in start.stderr, start.stderr
        assert attacker.name in start.stderr  # says whose it is

        stop = _rayground("stop", env=env)
        assert stop.returncode == 1 and refusal in stop.stderr, stop.stdout + stop.stderr

        for call in ("ray.init(num_cpus=1)", 'ray.init(address="auto")'):
            result = _python(
                f"""
                import rayground as ray
                try:
                    {call}
                except PermissionError as exc:
                    print("REFUSED", exc)
                else:
                    print("JOINED")
                    ray.shutdown()
                """,
                env,
            )
            assert "REFUSED" in result.stdout and refusal in result.stdout, result

        assert victim_file.read_text() == "keep me"
        assert sleeper.poll() is None, "the victim signalled the attacker's process"
        with pytest.raises(BlockingIOError):
            fake_head.accept()  # nobody ever connected to the fake head
    finally:
        fake_head.close()
        sleeper.kill()
        sleeper.wait(timeout=10)


def test_a_root_of_ours_that_others_may_write_is_refused(shared_tmp):
    root = Path(shared_tmp, f"rayground-{os.geteuid()}")
    root.mkdir()
    os.chmod(root, 0o777)
    start = _rayground("start", "--head", "--port", "0", env=_victim_env(TMPDIR=shared_tmp))
    assert start.returncode == 1
    assert f"{root}: other users may use it (mode 777, must be 700)" in start.stderr


def test_stop_never_signals_a_pid_that_is_not_our_head(short_root):
    """head.json names a pid; after a crash that pid may belong to another process (of ours,
    even). `rayground stop` signals only the process head.json recorded."""
    sleeper = subprocess.Popen(["sleep", "120"])
    try:
        wait_until(lambda: ownership.process_start_ticks(sleeper.pid) is not None, timeout=10)
        session = Path(short_root, "session_2020-01-01_00-00-00_1_abcdef")
        session.mkdir(mode=0o700)
        head = {
            "pid": sleeper.pid,
            "start_ticks": ownership.process_start_ticks(sleeper.pid),
            "addresses": ["tcp://127.0.0.1:1"],
            "node_id": "x",
            "owner_pid": None,
            "started": 0,
        }
        ownership.write_atomically(str(session / "head.json"), json.dumps(head).encode())
        stop = cli("stop", RAYGROUND_TMPDIR=short_root)
        assert stop.returncode == 0 and "No cluster" in stop.stdout, stop
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait(timeout=10)


# ---------------------------------------------------------------------------- hole 1
_VICTIM_DRIVER = """
import os, sys
from rayground._core import lifetime

# Forced interleaving: the attacker knows the session's name in advance (before the fix, it read
# it from the head's command line and raced the head's `makedirs(exist_ok=True)`).
lifetime._session_name = lambda prefix: prefix + "_predicted"
import numpy as np
import rayground as ray

try:
    ray.init(num_cpus=1, object_store_memory=64 * 1024**2)
except PermissionError as exc:
    print("REFUSED", exc, flush=True)
    sys.exit(0)
ref = ray.put(np.arange(200_000))  # large: written to a shared-memory segment
print("PUT", flush=True)
sys.stdin.readline()  # the attacker swaps the segments now
print("GOT", ray.get(ref)[:3], flush=True)
ray.shutdown()
"""


@needs_attacker
def test_a_shared_memory_directory_planted_by_another_user_is_refused(
    attacker, shared_shm, short_root, tmp_path
):
    planted = Path(shared_shm, "rayground-session_predicted")
    marker = tmp_path / "attackers-pickle-ran"
    evil = serialize(Marker(str(marker))).to_bytes()

    def plant() -> None:
        os.mkdir(planted)
        os.chmod(planted, 0o777)

    def swap_segments() -> None:
        for name in os.listdir(planted):
            path = planted / name
            if path.is_file():
                tmp = planted / f".{name}.evil"
                tmp.write_bytes(evil)
                os.replace(tmp, path)  # allowed: the attacker owns the directory

    as_user(attacker, plant)
    script = tmp_path / "victim.py"
    script.write_text(_VICTIM_DRIVER)
    env = child_env(RAYGROUND_TMPDIR=short_root, RAYGROUND_SHM_DIR=shared_shm)
    victim = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = victim.stdout.readline()
        if first.startswith("PUT"):
            as_user(attacker, swap_segments)
        victim.stdin.write("go\n")
        victim.stdin.flush()
        out, err = victim.communicate(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.communicate()
    assert not marker.exists(), "the attacker's pickle ran in the victim's process"
    assert first.startswith("REFUSED"), first + out + err
    assert f"refuses to use the shared-memory directory {planted}" in first
    assert attacker.name in first
    assert os.listdir(planted) == []  # the victim wrote nothing into it


@needs_attacker
def test_the_shared_memory_directory_exists_before_anything_names_it(
    attacker, monkeypatch, short_root
):
    """The head's command line (readable by every user) names its shared-memory directory: by
    the time that command line exists, the directory must already be there, ours, 0700; the
    attacker can then neither create it nor put anything in it."""
    monkeypatch.setenv("RAYGROUND_TMPDIR", short_root)
    seen = {}
    real_popen = subprocess.Popen

    def recording_popen(cmd, *args, **kwargs):
        if "--shm-dir" in cmd:
            shm = cmd[cmd.index("--shm-dir") + 1]
            st = os.lstat(shm)
            seen.update(
                shm=shm, uid=st.st_uid, mode=stat.S_IMODE(st.st_mode), dir=stat.S_ISDIR(st.st_mode)
            )
        return real_popen(cmd, *args, **kwargs)

    monkeypatch.setattr(lifetime.subprocess, "Popen", recording_popen)
    head = _start_head()
    try:
        assert seen == {"shm": head.shm_dir, "uid": os.geteuid(), "mode": 0o700, "dir": True}
        with open(f"/proc/{head.pid}/cmdline", "rb") as f:
            assert head.shm_dir.encode() in f.read()  # public, as the issue says

        def attack(shm: str) -> None:
            try:
                os.mkdir(shm)
            except FileExistsError:
                pass
            else:
                raise AssertionError("the attacker created the shared-memory directory")
            try:
                open(os.path.join(shm, "o-planted"), "wb").close()
            except PermissionError:
                pass
            else:
                raise AssertionError("the attacker wrote into the shared-memory directory")

        as_user(attacker, attack, head.shm_dir)
    finally:
        lifetime.stop_head(head.proc, head.shm_dir)
    assert not os.path.exists(head.shm_dir)


def test_the_head_refuses_a_shared_memory_directory_others_may_use(monkeypatch, short_root):
    """The head never creates its directory and uses the one it is given only if it is ours
    and 0700 (here the launcher is made to hand it one that is open to everyone)."""
    monkeypatch.setenv("RAYGROUND_TMPDIR", short_root)

    made = []

    def open_shm_dir(session_dir: str) -> str:
        shm = lifetime.shm_dir_for(session_dir)
        os.mkdir(shm)
        os.chmod(shm, 0o777)
        made.append(shm)
        return shm

    monkeypatch.setattr(lifetime, "make_shm_dir", open_shm_dir)
    with pytest.raises(RuntimeError) as info:
        _start_head()
    assert "refuses to use the shared-memory directory" in str(info.value)
    assert "mode 777, must be 700" in str(info.value)
    assert made and not os.path.exists(made[0])  # the launcher cleaned up after the refusal


# ---------------------------------------------------------------------------- hole 6
_MODES_DRIVER = """
import json, os, stat
os.umask(0o022)  # a careless umask in the driver changes nothing the cluster writes
import numpy as np
import rayground as ray
from rayground._core import config

ray.init(num_cpus=1, object_store_memory=64 * 1024**2)

@ray.remote
def echo(x):
    return x

refs = [ray.put(np.full(2_000_000, i)) for i in range(6)]  # 96 MB: some spill to disk
assert ray.get(echo.remote(refs[0]))[0] == 0
from rayground._core import context
info = context.current_client().session
modes = {}
for top in (config.session_root(), info["shm_dir"]):
    modes[top] = stat.S_IMODE(os.lstat(top).st_mode)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            modes[path] = stat.S_IMODE(os.lstat(path).st_mode)
print(json.dumps({"modes": modes, "session_dir": info["session_dir"]}))
ray.shutdown()
"""


def test_everything_the_cluster_writes_is_owner_only(short_root, tmp_path):
    script = tmp_path / "modes.py"
    script.write_text(_MODES_DRIVER)
    result = _run([sys.executable, str(script)], child_env(RAYGROUND_TMPDIR=short_root), 120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    modes = report["modes"]
    session = report["session_dir"]
    spilled = [p for p in modes if p.startswith(os.path.join(session, "spill") + "/")]
    assert spilled, "nothing was spilled: the test did not exercise the spill directory"
    for name in ("token", "head.json", "logs/head.log", "spill"):
        assert os.path.join(session, name) in modes, name
    assert any("/logs/worker-" in p for p in modes)
    open_to_others = {p: f"{m:o}" for p, m in modes.items() if m & 0o077}
    assert open_to_others == {}


# ---------------------------------------------------------------------------- hole 7
def test_a_sigkilled_heads_memory_is_swept_by_the_next_init(short_root, tmp_path):
    env = {"RAYGROUND_TMPDIR": short_root}
    start = cli("start", "--head", "--port", "0", "--num-cpus", "1", **env)
    assert start.returncode == 0, start.stderr
    head_pid = int(start.stdout.split("head pid ")[1].split(",")[0])
    session_dir = os.path.dirname(start.stdout.split("token file:")[1].split()[0])
    shm = lifetime.shm_dir_for(session_dir)
    workers = [w["pid"] for w in json.loads(cli("list", "workers", "--json", **env).stdout)]
    os.kill(head_pid, signal.SIGKILL)
    wait_until(lambda: not any(process_alive(p) for p in [head_pid, *workers]), timeout=15)
    assert os.path.isdir(shm)  # nobody was there to clean up
    result = _python(
        f"""
        import os
        import rayground as ray
        ray.init(num_cpus=1)
        print("SWEPT" if not os.path.exists({shm!r}) else "LEFT")
        ray.shutdown()
        """,
        child_env(**env),
    )
    assert "SWEPT" in result.stdout, result.stdout + result.stderr[-3000:]
    assert os.path.isdir(os.path.join(session_dir, "logs"))  # its logs are kept


def test_old_session_directories_are_bounded(monkeypatch, short_root):
    monkeypatch.setenv("RAYGROUND_TMPDIR", short_root)
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = []
    for i in range(5):
        session = Path(short_root, f"session_2020-01-01_00-00-0{i}_1_abcdef")
        session.mkdir(mode=0o700)
        (session / "logs").mkdir(mode=0o700)
        info = {"pid": gone.pid, "start_ticks": 1, "addresses": [], "owner_pid": None}
        ownership.write_atomically(str(session / "head.json"), json.dumps(info).encode())
        os.utime(session, (1_600_000_000 + i, 1_600_000_000 + i))
        dead.append(session)
    shm = lifetime.make_shm_dir(str(dead[0]))
    starting = Path(short_root, "session_2099-01-01_00-00-00_1_abcdef")
    starting.mkdir(mode=0o700)  # a head still starting: no head.json yet
    logs = []
    for i in range(4):  # logs of `rayground start --address` launches
        log = Path(short_root, f"node-1-{i}.log")
        log.write_text("node log")
        os.utime(log, (1_600_000_000 + i, 1_600_000_000 + i))
        logs.append(log)
    removed = lifetime.sweep_stale_sessions(keep=2)
    assert not os.path.exists(shm) and shm in removed
    assert sorted(p.name for p in Path(short_root).iterdir()) == sorted(
        [dead[3].name, dead[4].name, starting.name, logs[2].name, logs[3].name]
    )


def test_the_log_of_a_live_node_is_kept(monkeypatch, short_root):
    monkeypatch.setenv("RAYGROUND_TMPDIR", short_root)
    head = _start_head(num_cpus=0, port=0)
    try:
        assert head.tcp_address is not None
        node = lifetime.start_node(head.tcp_address, head.token, num_cpus=1)
        try:
            old = Path(short_root, "node-1-old.log")
            old.write_text("an ended node's log")
            os.utime(old, (1_600_000_000, 1_600_000_000))
            removed = lifetime.sweep_stale_sessions(keep=0)
            assert str(old) in removed and not old.exists()
            assert os.path.exists(node.log_path)
        finally:
            lifetime.stop_process(node.proc)
    finally:
        lifetime.stop_head(head.proc, head.shm_dir)
