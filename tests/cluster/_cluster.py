"""Helpers for cluster tests: the real `rayground` CLI and driver scripts in their own processes.

A `standalone` cluster is started with `rayground start --head --port 0` (loopback, any free port)
and stopped with `rayground stop` when the module ends; drivers are separate Python processes that
join it. Every subprocess has a deadline, and the root conftest's leak check makes sure nothing
(process or shared memory) outlives the module.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(RUNTIME), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    env["PYTHONUNBUFFERED"] = "1"
    for key in ("RAYGROUND_ADDRESS", "RAY_ADDRESS", "RAYGROUND_TOKEN"):
        env.pop(key, None)
    env.update(extra)
    return env


def cli(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m rayground ARGS` and return its result (never raises on exit codes)."""
    return subprocess.run(
        [sys.executable, "-m", "rayground", *args],
        env=child_env(**env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_driver(
    tmp_path: Path, source: str, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a driver script (a separate process) to completion."""
    script = tmp_path / f"driver_{abs(hash(source)) % 10**8}.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, str(script), *args],
        env=child_env(**env),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Standalone:
    address: str  # host:port
    token_file: str
    session_dir: str
    head_pid: int
    start_output: str

    @property
    def token(self) -> str:
        return Path(self.token_file).read_text().strip()

    @property
    def head_log(self) -> Path:
        return Path(self.session_dir) / "logs" / "head.log"


def start_standalone(*extra: str, **env: str) -> Standalone:
    result = cli("start", "--head", "--port", "0", *extra, **env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    address = re.search(r"address:\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    token_file = re.search(r"token file:\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    pid = int(re.search(r"head pid (\d+)", out).group(1))  # type: ignore[union-attr]
    return Standalone(address, token_file, os.path.dirname(token_file), pid, out)


def join_node(cluster: Standalone, ip: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """`rayground start --address` a second node (IP `ip`, e.g. 127.0.0.2) into `cluster`."""
    return cli(
        "start",
        "--address",
        cluster.address,
        "--node-ip-address",
        ip,
        *extra,
        RAYGROUND_TOKEN=cluster.token,
    )


def stop_all() -> subprocess.CompletedProcess[str]:
    result = cli("stop", "--grace", "10")
    assert result.returncode == 0, result.stderr
    return result
