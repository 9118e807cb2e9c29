"""Helpers for the lab tests: a real Jupyter server (or JupyterLab) on loopback, with token auth.

Each server runs in a temporary root with its own Jupyter config/data/runtime dirs (so a
developer's settings cannot change the result) but the venv's system config, where
`pip install` put the rayground server extension and the lab extension. Stopping it shuts its
kernels down; the conftest leak check then verifies no kernel, head or worker is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _needs import needs

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("RAYGROUND_TEST_ARTIFACTS", REPO / "test-artifacts")) / "lab"

# The browser tests: Playwright cannot download its own browser here, so it drives Debian's
# chromium (RAYGROUND_CHROMIUM to change); without it those tests skip, saying why.
CHROMIUM = os.environ.get("RAYGROUND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI containers run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # no traffic beyond loopback
    "--disable-component-update",
    "--no-first-run",
]
BROWSER_TIMEOUT_MS = 60_000

# Seven tasks in a small tree (four loads, three combines): the DAG both browser tests look for.
GRAPH_CELL = (
    "@ray.remote\n"
    "def load(i):\n"
    "    return i\n"
    "\n"
    "@ray.remote\n"
    "def combine(a, b):\n"
    "    return a + b\n"
    "\n"
    "parts = [load.remote(i) for i in range(4)]\n"
    "left = combine.remote(parts[0], parts[1])\n"
    "right = combine.remote(parts[2], parts[3])\n"
    "total = combine.remote(left, right)\n"
)
needs_chromium = needs(
    None
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)
    else f"no chromium at {CHROMIUM} (apt-get install chromium; scripts/setup.sh does it under CI)"
)


def notebook_json(cells: list[dict]) -> str:
    """An .ipynb (nbformat 4.5, python3 kernel) holding these cells."""
    return json.dumps(
        {
            "cells": cells,
            "metadata": {
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def code_cell(src: str, **meta: Any) -> dict:
    return {
        "cell_type": "code",
        "metadata": meta,
        "source": src,
        "outputs": [],
        "execution_count": None,
        "id": os.urandom(4).hex(),
    }


def markdown_cell(src: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": src, "id": os.urandom(4).hex()}


def fresh_artifacts(name: str, files: tuple[str, ...] = ()) -> Path:
    """ARTIFACTS/name (made if missing) with this test's earlier files removed; other tests'
    screenshots in the same folder stay."""
    out = ARTIFACTS / name if name else ARTIFACTS
    out.mkdir(parents=True, exist_ok=True)
    for pattern in files:
        for old in out.glob(pattern):
            if old.is_file():
                old.unlink()
    return out


def luminance(css_color: str) -> float:
    """Relative luminance (0 dark .. 1 light) of a computed CSS colour like "rgb(r, g, b)"."""
    r, g, b = (int(x) for x in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def palette(page: Any, text: str) -> None:
    """Run a command from JupyterLab's command palette, as a learner would."""
    page.keyboard.press("Control+Shift+C")
    box = page.locator(".lm-CommandPalette-input")
    box.fill(text)
    page.locator(".lm-CommandPalette-item.lm-mod-active").first.wait_for()
    page.keyboard.press("Enter")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    token: str
    root: Path
    proc: subprocess.Popen
    log_path: Path
    env: dict[str, str]

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = "default"
    ) -> tuple[int, Any]:
        """(status, parsed JSON or text) of an HTTP call; token=None sends no credentials."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body))
        req = urllib.request.Request(
            self.url + path,
            data=data.encode() if isinstance(data, str) else data,
            method=method,
        )
        if token is not None:
            req.add_header("Authorization", f"token {self.token if token == 'default' else token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


def start_server(tmp: Path, app: str = "server", extra_env: dict[str, str] | None = None) -> Server:
    """A Jupyter server on 127.0.0.1 with a fresh token: app "server" (no frontend), "lab"
    (JupyterLab) or "notebook" (Notebook 7)."""
    root = tmp / "root"
    root.mkdir(exist_ok=True)
    home = tmp / "jupyter"
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        RAYGROUND_PROGRESS_FILE=str(tmp / "progress.json"),
        PYTHONPATH=str(REPO / "runtime"),
    )
    env.update(extra_env or {})
    token = uuid.uuid4().hex
    port = free_port()
    log_path = tmp / f"jupyter-{app}.log"
    module = {"lab": "jupyterlab", "notebook": "notebook", "server": "jupyter_server"}[app]
    cmd = [
        sys.executable,
        "-m",
        module,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.shutdown_no_activity_timeout=0",
        # Kernels get a bounded time to stop, so the server's own shutdown is bounded too.
        "--KernelManager.shutdown_wait_time=3",
    ]
    if app == "lab":
        # No news or update checks: tests talk to nothing but loopback.
        cmd += [
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
    if os.getuid() == 0:
        cmd.append("--allow-root")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = Server(f"http://127.0.0.1:{port}", token, root, proc, log_path, env)
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter {app} exited ({proc.returncode}):\n{server.log()}")
        with contextlib.suppress(OSError):
            status, _ = server.request("GET", "/api/status")
            if status == 200:
                return server
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"jupyter {app} did not answer within 90 s:\n{server.log()}")
        time.sleep(0.2)


def stop_server(server: Server) -> None:
    """Shut the server down as Ctrl-C would (kernels and started clusters stop with it)."""
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def serving_notebook(
    tmp: Path, notebook: str, cells: list[str], app: str = "lab"
) -> Iterator[Server]:
    """A server (`app` as for `start_server`) whose root holds one notebook of code `cells`;
    stopped, with its kernels, on exit."""
    root = tmp / "root"
    root.mkdir(exist_ok=True)
    (root / notebook).write_text(notebook_json([code_cell(c) for c in cells]))
    server = start_server(tmp, app=app)
    try:
        yield server
    finally:
        stop_server(server)


def open_page(browser: Any, width: int, height: int) -> tuple[Any, Any, list[str]]:
    """A new browser context and page (Playwright's waits set to `BROWSER_TIMEOUT_MS`), and the
    list its console messages and page errors (with their stack) are collected in."""
    from playwright.sync_api import expect

    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}\n{e.stack}"))
    return context, page, console


def wait_for(predicate, timeout: float, message: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message}")
        time.sleep(interval)


class FeedClient:
    """A browser's side of /rayground/feed, for sync tests: messages collect in `.messages`."""

    def __init__(self, server: Server, token: str | None = "default") -> None:
        import asyncio
        import threading

        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        self.messages: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        headers = {}
        if token is not None:
            headers["Authorization"] = f"token {server.token if token == 'default' else token}"
        url = server.url.replace("http://", "ws://") + "/rayground/feed"

        async def connect():
            return await websocket_connect(HTTPRequest(url, headers=headers), ping_interval=None)

        try:
            self._conn = asyncio.run_coroutine_threadsafe(connect(), self._loop).result(30)
        except BaseException:
            self._shutdown()
            raise
        asyncio.run_coroutine_threadsafe(self._read(), self._loop)

    async def _read(self) -> None:
        while True:
            msg = await self._conn.read_message()
            if msg is None:
                return
            self.messages.append(json.loads(msg))

    def send(self, message: dict[str, Any]) -> None:
        import asyncio

        async def write():
            await self._conn.write_message(json.dumps(message))

        asyncio.run_coroutine_threadsafe(write(), self._loop).result(10)

    def wait(self, predicate, timeout: float, what: str) -> dict[str, Any]:
        """The first message (from the start) for which predicate(msg) is true."""

        def find():
            return next((m for m in list(self.messages) if predicate(m)), None)

        return wait_for(find, timeout, f"no {what} message; got types {self.types()}")

    def last(self, kind: str, **match: Any) -> dict[str, Any] | None:
        for m in reversed(list(self.messages)):
            if m.get("type") == kind and all(m.get(k) == v for k, v in match.items()):
                return m
        return None

    def types(self) -> list[str]:
        return [m.get("type", "?") for m in self.messages][-40:]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.call_soon_threadsafe(self._conn.close)
        self._shutdown()

    def _shutdown(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class Kernel:
    """A kernel started through the server's REST API, driven with a jupyter_client client."""

    def __init__(self, server: Server) -> None:
        from jupyter_client import BlockingKernelClient

        status, body = server.request("POST", "/api/kernels", {"name": "python3"})
        assert status == 201, (status, body)
        self.id = body["id"]
        self.server = server
        self._client_class = BlockingKernelClient
        self.client = self._connect()

    def _connect(self, timeout: float = 60) -> Any:
        """A client on the kernel's channels, once the kernel answers kernel_info."""
        path = Path(self.server.env["JUPYTER_RUNTIME_DIR"]) / f"kernel-{self.id}.json"
        wait_for(path.exists, 30, f"connection file {path}")
        deadline = time.monotonic() + timeout
        while True:
            client = self._client_class()
            client.load_connection_file(str(path))
            client.start_channels()
            try:
                # Right after a (re)start the heartbeat may not beat yet, which wait_for_ready
                # reports as "died": try again until the deadline.
                client.wait_for_ready(timeout=max(1.0, deadline - time.monotonic()))
                return client
            except RuntimeError:
                client.stop_channels()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def run(self, code: str, timeout: float = 60) -> str:
        """Run code; return its stdout; raise with the traceback if it failed."""
        out: list[str] = []
        reply = self.client.execute_interactive(
            code,
            timeout=timeout,
            output_hook=lambda msg: out.append(
                msg["content"].get("text", "")
                if msg["msg_type"] == "stream"
                else "\n".join(msg["content"].get("traceback", []))
                if msg["msg_type"] == "error"
                else ""
            ),
        )
        if reply["content"]["status"] != "ok":
            raise AssertionError(f"kernel code failed:\n{code}\n{''.join(out)}")
        return "".join(out)

    def restart(self) -> None:
        self.client.stop_channels()
        status, body = self.server.request("POST", f"/api/kernels/{self.id}/restart")
        assert status == 200, (status, body)
        self.client = self._connect()

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        self.server.request("DELETE", f"/api/kernels/{self.id}")
