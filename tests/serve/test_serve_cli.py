"""`rayground serve run|status|shutdown` against a standalone cluster (`rayground start`), as
Ray's `serve run` is used with seed 001's composition (which has no serve.run of its own)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"
SEED_DIR = Path(__file__).resolve().parent / "seed001"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(RUNTIME), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    env["PYTHONUNBUFFERED"] = "1"
    for key in ("RAYGROUND_ADDRESS", "RAY_ADDRESS", "RAYGROUND_TOKEN"):
        env.pop(key, None)
    return env


def _cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rayground", *args],
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=SEED_DIR,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    started = _cli("start", "--head", "--port", "0", "--num-cpus", "4")
    assert started.returncode == 0, started.stderr
    try:
        yield
    finally:
        _cli("stop")


def _read_until(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    """Lines of the process's output until one holds `needle` (fails after `timeout`)."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no line with {needle!r} within {timeout} s; output: {''.join(seen)}")
        if line is None:
            pytest.fail(f"the process ended before printing {needle!r}: {''.join(seen)}")
        seen.append(line)
        if needle in line:
            return "".join(seen)


def test_serve_run_status_shutdown(cluster, port_open, pick_port):
    port = pick_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rayground",
            "serve",
            "run",
            "serve_pipeline:app",
            "--address",
            "auto",
            "--port",
            str(port),
        ],
        env=_env(),
        cwd=SEED_DIR,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out = _read_until(proc, "Deployed app 'default' successfully", timeout=90)
        assert f"http://127.0.0.1:{port}/" in out
        reply = httpx.post(f"http://127.0.0.1:{port}/", json={"text": " Amazing! "}, timeout=30)
        assert reply.status_code == 200 and reply.json()["label"] == "POSITIVE"

        status = _cli("serve", "status")
        assert status.returncode == 0, status.stderr
        assert "  default:\n    status: RUNNING" in status.stdout
        for name in ("Pipeline", "Preprocessor", "Classifier"):
            assert f"      {name}:\n        status: HEALTHY" in status.stdout

        stopped = _cli("serve", "shutdown", "-y")
        assert stopped.returncode == 0, stopped.stderr
        assert not port_open(port)
        assert "applications: {}" in _cli("serve", "status").stdout
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("import_path", "message"),
    [
        ("serve_pipeline", "must be module:attribute"),
        ("no_such_module:app", "Could not import 'no_such_module'"),
        ("serve_pipeline:nothing", "has no attribute 'nothing'"),
        ("serve_pipeline:Pipeline", "bind it first (app = Pipeline.bind())"),
    ],
)
def test_serve_run_bad_import_paths_are_one_line_errors(cluster, import_path, message, pick_port):
    result = _cli("serve", "run", import_path, "--address", "auto", "--port", str(pick_port()))
    assert result.returncode == 1
    assert result.stderr.startswith("rayground serve: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
