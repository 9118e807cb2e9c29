"""A class on one shared machine, end to end: a real JupyterHub on loopback (LocalProcessSpawner,
configurable-http-proxy from npm), two real learners made by the test, both running lesson 00 at
the same time. Each gets a cluster of their own, and neither can see, join or stop the other's.

Needs root (to make the learners and let the hub switch to them), JupyterHub (`pip install
jupyterhub`), configurable-http-proxy (`npm install -g configurable-http-proxy`) and a Python of
this version that the learners may run (this one, or /usr/bin/python3.X when this one lives
where they cannot read: the test then makes a venv around it that sees this environment's
packages). Otherwise it skips, saying which is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _cluster import RUNTIME
from _users import LocalUser, create_user, delete_user, home_of, why_no_second_user

from _needs import missing
from _procs import process_alive, wait_until

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "notebooks" / "00_welcome.ipynb"
PROXY = shutil.which("configurable-http-proxy")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _why_not() -> str | None:
    reason = why_no_second_user()
    if reason:
        return reason
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        return "JupyterHub is not installed (pip install jupyterhub)"
    if PROXY is None:
        return "configurable-http-proxy is not installed (npm install -g configurable-http-proxy)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _readable_by_all(path: Path) -> bool:
    """Whether every directory on the way to `path` lets other users through."""
    for part in [path, *path.parents]:
        try:
            if not os.stat(part).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _learner_python(workdir: Path) -> str | None:
    """A Python of this version that other users may run and that imports what this one does."""
    import site

    if not all(_readable_by_all(Path(p)) for p in [RUNTIME, *site.getsitepackages()]):
        return None
    if _readable_by_all(Path(sys.executable).resolve()):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/bin:/usr/local/bin")
    if system is None or not _readable_by_all(Path(system).resolve()):
        return None
    env = workdir / "learner-env"
    subprocess.run([system, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    site_dir = env / "lib" / version / "site-packages"
    # This environment's packages, and the rayground under test, for the learners' processes.
    (site_dir / "rayground-tests.pth").write_text(
        "\n".join([str(RUNTIME), *site.getsitepackages()]) + "\n"
    )
    return str(env / "bin" / "python")


@dataclass
class Learner:
    user: LocalUser
    home: Path


def _create_learner() -> Learner:
    user = create_user("rgl", home=True)
    home = Path(home_of(user))
    shutil.copy(LESSON, home / LESSON.name)
    os.chown(home / LESSON.name, user.uid, user.gid)
    return Learner(user, home)


def _remove_learner(learner: Learner) -> None:
    delete_user(learner.user)
    shutil.rmtree(learner.home, ignore_errors=True)
    # Their session root, should the test have failed before their clusters stopped.
    shutil.rmtree(f"{tempfile.gettempdir()}/rayground-{learner.user.uid}", ignore_errors=True)


@dataclass
class Hub:
    url: str
    token: str
    proc: subprocess.Popen
    log: Path


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="rgh-", dir="/tmp"))
    os.chmod(path, 0o755)  # the learners' Python may live here
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def learners() -> Iterator[list[Learner]]:
    reason = _why_not()
    if reason:
        missing(reason)
    made: list[Learner] = []
    try:
        made = [_create_learner(), _create_learner()]
        yield made
    finally:
        for learner in made:
            _remove_learner(learner)


@pytest.fixture
def hub(workdir: Path, learners: list[Learner]) -> Iterator[Hub]:
    python = _learner_python(workdir)
    if python is None:
        missing(
            f"no Python {sys.version_info.major}.{sys.version_info.minor} that other users may "
            "run with this environment's packages and the rayground under test"
        )
    port, hub_port, api_port = _free_port(), _free_port(), _free_port()
    token = uuid.uuid4().hex
    names = [learner.user.name for learner in learners]
    config = workdir / "jupyterhub_config.py"
    config.write_text(
        f"""
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.command = [{PROXY!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.db_url = "sqlite:///{workdir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{workdir}/cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {set(names)!r}
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 300
c.Spawner.environment = {{"PYTHONPATH": {str(RUNTIME)!r}}}
c.JupyterHub.services = [{{"name": "rayground-test", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [
    {{
        "name": "rayground-test",
        "scopes": ["admin:users", "admin:servers", "access:servers"],
        "services": ["rayground-test"],
    }}
]
"""
    )
    log = workdir / "jupyterhub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    the_hub = Hub(f"http://127.0.0.1:{port}", token, proc, log)
    try:
        wait_until(lambda: _api(the_hub, "GET", "/hub/api/")[0] == 200, timeout=120)
        yield the_hub
    finally:
        for name in names:
            with contextlib.suppress(OSError):
                _api(the_hub, "DELETE", f"/hub/api/users/{name}/server")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _api(hub: Hub, method: str, path: str, body: object = None) -> tuple[int, object]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        hub.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {hub.token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError):
        return 0, None


def _start_server(hub: Hub, name: str) -> None:
    status, body = _api(hub, "POST", f"/hub/api/users/{name}/server")
    assert status in (201, 202), (status, body)

    def ready() -> bool:
        code, info = _api(hub, "GET", f"/hub/api/users/{name}")
        return code == 200 and bool(info["servers"].get("", {}).get("ready"))  # type: ignore[index]

    wait_until(ready, timeout=300)


async def _run_notebook(hub: Hub, name: str, cells: list[str]) -> list[str]:
    """Run `cells` in a new kernel of `name`'s server; the text each printed (errors raise)."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    base = f"/user/{name}/api"
    status, kernel = await asyncio.to_thread(_api, hub, "POST", f"{base}/kernels", {})
    assert status == 201, (status, kernel)
    ws_url = hub.url.replace("http", "ws") + f"{base}/kernels/{kernel['id']}/channels"  # type: ignore[index]
    conn = await websocket_connect(
        HTTPRequest(ws_url, headers={"Authorization": f"token {hub.token}"}, request_timeout=60)
    )
    session = uuid.uuid4().hex
    outputs = []
    try:
        for code in cells:
            msg_id = uuid.uuid4().hex
            request = {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "session": session,
                    "username": name,
                    "version": "5.3",
                    "date": "",
                },
                "parent_header": {},
                "metadata": {},
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": True,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
                "channel": "shell",
            }
            await conn.write_message(json.dumps(request))
            text = []
            replied = idle = False
            # The reply (shell) and the output (iopub) travel apart: done when both are in.
            while not (replied and idle):
                raw = await asyncio.wait_for(conn.read_message(), timeout=240)
                assert raw is not None, f"{name}'s kernel connection closed"
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["header"]["msg_type"]
                content = msg["content"]
                if kind == "stream":
                    text.append(content["text"])
                elif kind == "error":
                    raise AssertionError(
                        f"{name}: {code!r} raised {content['ename']}: {content['evalue']}"
                    )
                elif kind == "execute_reply":
                    assert content["status"] == "ok", (name, code, content)
                    replied = True
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
            outputs.append("".join(text))
    finally:
        conn.close()
    return outputs


def _lesson_cells() -> list[str]:
    notebook = json.loads(LESSON.read_text())
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


_WHERE_AM_I = """
import json
from rayground._core import config, lifetime
sessions = lifetime.list_local_sessions()
print(json.dumps({
    "root": config.session_root(),
    "sessions": [s.session_dir for s in sessions],
    "heads": [s.pid for s in sessions],
    "shm": [lifetime.shm_dir_for(s.session_dir) for s in sessions],
    "node_ids": [s.node_id for s in sessions],
}))
"""


def _as(learner: Learner, python: str, code: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(learner.home),
        "PYTHONPATH": str(RUNTIME),
        "RAYGROUND_TEST_SESSION": os.environ.get("RAYGROUND_TEST_SESSION", ""),
    }
    return subprocess.run(
        [python, "-c", code],
        user=learner.user.uid,
        group=learner.user.gid,
        extra_groups=[],
        env=env,
        cwd=learner.home,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_two_learners_on_one_hub_each_get_a_cluster_of_their_own(hub, learners, workdir):
    names = [learner.user.name for learner in learners]
    for name in names:
        _start_server(hub, name)

    async def both() -> list[list[str]]:
        runs = [_run_notebook(hub, name, [*_lesson_cells(), _WHERE_AM_I]) for name in names]
        return await asyncio.gather(*runs)

    outputs = asyncio.run(both())
    found = [json.loads(out[-1].strip().splitlines()[-1]) for out in outputs]
    for learner, mine, out in zip(learners, found, outputs, strict=True):
        assert "CPUs in the cluster: 4.0" in "".join(out)
        assert mine["root"] == f"{tempfile.gettempdir()}/rayground-{learner.user.uid}"
        assert len(mine["sessions"]) == 1, mine  # sees only its own cluster
        root_stat = os.stat(mine["root"])
        assert (root_stat.st_uid, root_stat.st_mode & 0o777) == (learner.user.uid, 0o700)
        shm_stat = os.stat(mine["shm"][0])
        assert (shm_stat.st_uid, shm_stat.st_mode & 0o777) == (learner.user.uid, 0o700)

    python = _learner_python_path(workdir)
    for me, other, theirs in (
        (learners[0], learners[1], found[1]),
        (learners[1], learners[0], found[0]),
    ):
        session = theirs["sessions"][0]
        probe = _as(
            me,
            python,
            f"""
import os, signal, socket
import rayground as ray
from rayground._core import lifetime

# See: another learner's cluster is not among mine, its files cannot be listed or read.
assert {session!r} not in [s.session_dir for s in lifetime.list_local_sessions()]
for path in ({session!r}, {theirs["shm"][0]!r}):
    try:
        os.listdir(path)
    except PermissionError:
        pass
    else:
        raise AssertionError("listed " + path)
try:
    open(os.path.join({session!r}, "token")).read()
except PermissionError:
    pass
else:
    raise AssertionError("read the other learner's token")
# Join: its socket cannot even be reached (the kernel says no before any token is asked for),
# and "auto" finds my own cluster only.
sock = socket.socket(socket.AF_UNIX)
try:
    sock.connect(os.path.join({session!r}, "head.sock"))
except PermissionError:
    print("JOIN REFUSED")
finally:
    sock.close()
ray.init(address="auto")
assert ray.get_runtime_context().get_node_id() not in {theirs["node_ids"]!r}
ray.shutdown()
# Stop: `rayground stop` finds nothing of theirs, and a signal is refused by the kernel.
try:
    os.kill({theirs["heads"][0]}, signal.SIGTERM)
except PermissionError:
    print("KILL REFUSED")
""",
        )
        assert probe.returncode == 0, probe.stderr[-3000:]
        assert "JOIN REFUSED" in probe.stdout and "KILL REFUSED" in probe.stdout, probe.stdout
        stop = _as(me, python, "from rayground.cli import main; main(['stop'])")
        assert "No cluster started by `rayground start`" in stop.stdout, stop
        assert process_alive(theirs["heads"][0]), f"{me.user.name} stopped {other.user.name}'s head"

    # Both clusters end with their learners' kernels, leaving no shared memory.
    for name in names:
        status, _ = _api(hub, "DELETE", f"/hub/api/users/{name}/server")
        assert status in (202, 204), status
    heads = [pid for mine in found for pid in mine["heads"]]
    wait_until(lambda: not any(process_alive(p) for p in heads), timeout=60)
    wait_until(lambda: not any(os.path.exists(m["shm"][0]) for m in found), timeout=30)


def _learner_python_path(workdir: Path) -> str:
    env_python = workdir / "learner-env" / "bin" / "python"
    return str(env_python) if env_python.exists() else sys.executable
