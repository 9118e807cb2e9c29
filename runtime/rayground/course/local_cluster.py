"""A cluster of several nodes on this one machine, for the lessons on faults and scaling out.

Every node listens on its own loopback address (127.0.0.1, 127.0.0.2, ...: all of 127/8 is this
machine on Linux), so the head and the nodes talk over TCP with the session token exactly as they
would between machines. The head is started with the public CLI (`rayground start --head`); a
node joins with `rayground start --address HEAD --node-ip-address IP` where this rayground's CLI
has that, else through `rayground._core.lifetime.start_node` (the same node process).

Its session directory lives under a private `RAYGROUND_TMPDIR`, so `stop()` (which runs
`rayground stop` there) stops this cluster and no other cluster on the machine. The kernel also
stops it when it exits (atexit), so a closed notebook leaves nothing running.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_TIMEOUT_S = 60.0


@dataclass
class NodeInfo:
    ip: str
    pid: int
    node_id: str
    how: str  # "cli" or "python": how it joined
    proc: subprocess.Popen | None = None


class LoopbackCluster:
    """`c = LoopbackCluster(); c.start_head(num_cpus=1); c.add_node("127.0.0.2")`; then
    `ray.init(address=c.address)`; `c.stop()` at the end (or `with LoopbackCluster() as c:`)."""

    def __init__(self) -> None:
        # Short on purpose: the session's Unix socket path must stay under 108 bytes.
        self.root = tempfile.mkdtemp(prefix="rg-")
        self.address: str | None = None  # host:port of the head
        self.token: bytes | None = None
        self.nodes: list[NodeInfo] = []
        self.head_command: list[str] = []
        self.head_output = ""
        self.node_commands: list[list[str]] = []
        atexit.register(self.stop)

    # -- the CLI, run the way a learner runs it in a terminal (in this cluster's session root)
    def cli(
        self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = _TIMEOUT_S
    ) -> subprocess.CompletedProcess:
        env = dict(os.environ, RAYGROUND_TMPDIR=self.root, **(extra_env or {}))
        cmd = [sys.executable, "-m", "rayground", *args]
        return subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def start_head(self, num_cpus: float = 1, resources: dict[str, float] | None = None) -> str:
        args = ["start", "--head", "--port", "0", "--num-cpus", f"{num_cpus:g}"]
        if resources:
            args += ["--resources", json.dumps(resources)]
        self.head_command = ["rayground", *args]
        out = self.cli(*args)
        if out.returncode != 0:
            raise RuntimeError(f"`{' '.join(self.head_command)}` failed: {out.stderr.strip()}")
        self.head_output = out.stdout
        self.address = re.search(r"address:\s+(\S+)", out.stdout).group(1)
        token_file = re.search(r"token file:\s+(\S+)", out.stdout).group(1)
        self.token = Path(token_file).read_bytes().strip()
        # A driver in this kernel proves it may connect with the token, like any other machine.
        os.environ["RAYGROUND_TOKEN"] = self.token.decode()
        return self.address

    @staticmethod
    def cli_can_join() -> bool:
        """Whether this rayground's `rayground start` can join a node to a running head."""
        out = subprocess.run(
            [sys.executable, "-m", "rayground", "start", "--help"],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
        return re.search(r"(^|\s)--address\b", out.stdout) is not None

    def add_node(
        self, ip: str, num_cpus: float = 1, resources: dict[str, float] | None = None
    ) -> NodeInfo:
        if self.address is None or self.token is None:
            raise RuntimeError("start_head() first: a node joins a running head")
        args = ["start", "--address", self.address, "--node-ip-address", ip]
        args += ["--num-cpus", f"{num_cpus:g}"]
        if resources:
            args += ["--resources", json.dumps(resources)]
        self.node_commands.append(["RAYGROUND_TOKEN=...", "rayground", *args])
        if self.cli_can_join():
            node = self._join_with_cli(args, ip)
        else:
            node = self._join_with_python(ip, num_cpus, resources)
        self.nodes.append(node)
        return node

    def _join_with_cli(self, args: list[str], ip: str) -> NodeInfo:
        """Run `rayground start --address ...`; it may return once the node has joined, or stay
        in the foreground as the node: either way, the node is known by its node.json."""
        env = dict(os.environ, RAYGROUND_TMPDIR=self.root, RAYGROUND_TOKEN=self.token.decode())
        log = Path(self.root) / f"start-node-{ip}.log"
        with open(log, "w") as err:  # a file, not a pipe: a foreground node may log a lot
            proc = subprocess.Popen(
                [sys.executable, "-m", "rayground", *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,  # like the head: a notebook's Ctrl-C must not reach it
            )
        deadline = time.monotonic() + _TIMEOUT_S
        while time.monotonic() < deadline:
            found = self._node_json(ip)
            if found is not None:
                pid, node_id = found
                foreground = proc.poll() is None and proc.pid == pid
                if not foreground:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=10)  # the CLI that started the node: reap it
                return NodeInfo(ip, pid, node_id, "cli", proc if foreground else None)
            if proc.poll() not in (None, 0):
                raise RuntimeError(f"the node at {ip} did not join: {log.read_text().strip()}")
            time.sleep(0.05)
        from rayground._core import lifetime

        lifetime.stop_process(proc)
        raise RuntimeError(f"the node at {ip} did not show up in {self.root} within {_TIMEOUT_S} s")

    def _node_json(self, ip: str) -> tuple[int, str] | None:
        for info in Path(self.root).glob("node_*/node.json"):
            with contextlib.suppress(OSError, ValueError, KeyError):
                doc = json.loads(info.read_text())
                pid = int(doc["pid"])
                ours = all(n.pid != pid for n in self.nodes)
                if ours and ip in str(doc.get("object_server", "")):
                    return pid, str(doc["node_id"])
        return None

    def _join_with_python(
        self, ip: str, num_cpus: float, resources: dict[str, float] | None
    ) -> NodeInfo:
        from rayground._core import lifetime

        old = os.environ.get("RAYGROUND_TMPDIR")
        os.environ["RAYGROUND_TMPDIR"] = self.root  # the node's files go with the head's
        try:
            node = lifetime.start_node(
                f"tcp://{self.address}",
                self.token,
                num_cpus=num_cpus,
                resources=resources or {},
                node_ip_address=ip,
            )
        finally:
            if old is None:
                os.environ.pop("RAYGROUND_TMPDIR", None)
            else:
                os.environ["RAYGROUND_TMPDIR"] = old
        return NodeInfo(ip, node.proc.pid, node.node_id, "python", node.proc)

    def kill_node(self, ip: str) -> None:
        """SIGKILL the node at `ip`, as if its machine lost power, and wait until it is gone."""
        node = next(n for n in self.nodes if n.ip == ip)
        with contextlib.suppress(ProcessLookupError):
            os.kill(node.pid, signal.SIGKILL)
        if node.proc is not None:
            node.proc.wait(timeout=_TIMEOUT_S)
        else:
            _wait_gone(node.pid)

    def stop(self) -> None:
        """Stop the head (`rayground stop` in this cluster's session root) and every node."""
        if self.address is not None:
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                self.cli("stop", "--grace", "5")
            self.address = None
        for node in self.nodes:
            if node.proc is not None:
                from rayground._core import lifetime

                lifetime.stop_process(node.proc)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.pid, signal.SIGTERM)
                _wait_gone(node.pid)
        self.nodes = []
        if os.environ.get("RAYGROUND_TOKEN") == (self.token or b"").decode():
            os.environ.pop("RAYGROUND_TOKEN", None)
        self._sweep()
        shutil.rmtree(self.root, ignore_errors=True)
        atexit.unregister(self.stop)

    def _sweep(self) -> None:
        from rayground._core import lifetime

        old = os.environ.get("RAYGROUND_TMPDIR")
        os.environ["RAYGROUND_TMPDIR"] = self.root
        try:
            lifetime.sweep_stale_sessions()
        finally:
            if old is None:
                os.environ.pop("RAYGROUND_TMPDIR", None)
            else:
                os.environ["RAYGROUND_TMPDIR"] = old

    def __enter__(self) -> LoopbackCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
