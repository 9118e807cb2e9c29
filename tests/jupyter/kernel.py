"""A real IPython kernel driven over ZeroMQ with jupyter_client, every wait bounded.

`Kernel.run(code)` executes a cell and returns what the frontend saw: stream text, display
bundles, errors and the messages that arrived later for that cell (`drain`).
"""

from __future__ import annotations

import queue
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager


@dataclass
class CellResult:
    msg_id: str
    stdout: str = ""
    stderr: str = ""
    displays: list[dict[str, Any]] = field(default_factory=list)  # data bundles, in order
    updates: list[dict[str, Any]] = field(default_factory=list)  # update_display_data bundles
    error: dict[str, Any] | None = None
    status: str = ""

    def texts(self) -> list[str]:
        return [d.get("text/plain", "") for d in self.displays]

    @property
    def text(self) -> str:
        return "\n".join(self.texts())


class Kernel:
    def __init__(self, cwd: str | None = None, extra_env: dict[str, str] | None = None) -> None:
        import os

        env = dict(os.environ)
        env.update(extra_env or {})
        self.km = KernelManager(kernel_name="python3")
        self.km.kernel_cmd = None  # type: ignore[attr-defined]
        self.km.kernel_spec_manager  # noqa: B018  (loads specs)
        self.km.kernel_spec.argv[0] = sys.executable  # this venv's Python, whatever the spec says
        self.km.start_kernel(env=env, cwd=cwd)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.results: dict[str, CellResult] = {}
        self.comm_updates: list[tuple[float, dict[str, Any]]] = []  # (arrival, state), any cell

    @property
    def pid(self) -> int:
        return self.km.provisioner.process.pid  # type: ignore[union-attr]

    def submit(self, code: str) -> str:
        msg_id = self.kc.execute(code, store_history=True)
        self.results[msg_id] = CellResult(msg_id)
        return msg_id

    def _take(self, msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "comm_msg":
            data = msg["content"].get("data", {})
            if data.get("method") == "update":
                self.comm_updates.append((time.monotonic(), data.get("state", {})))
        parent = msg.get("parent_header", {}).get("msg_id")
        res = self.results.get(parent)
        if res is None:
            return
        kind = msg["msg_type"]
        content = msg["content"]
        if kind == "stream":
            if content["name"] == "stdout":
                res.stdout += content["text"]
            else:
                res.stderr += content["text"]
        elif kind in ("display_data", "execute_result"):
            res.displays.append(content["data"])
        elif kind == "update_display_data":
            res.updates.append(content["data"])
        elif kind == "error":
            res.error = content
        elif kind == "status" and content["execution_state"] == "idle":
            res.status = "idle"

    def pump(self, seconds: float) -> None:
        """Read iopub for `seconds`, filing every message under its cell."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                msg = self.kc.get_iopub_msg(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            self._take(msg)

    def wait(self, msg_id: str, timeout: float = 60.0) -> CellResult:
        res = self.results[msg_id]
        deadline = time.monotonic() + timeout
        while res.status != "idle":
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"cell {msg_id} did not finish within {timeout} s: {res}")
            try:
                msg = self.kc.get_iopub_msg(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            self._take(msg)
        return res

    def value(self, expr: str, timeout: float = 30.0) -> Any:
        """Evaluate `expr` in the kernel and return it (it must be a Python literal)."""
        import ast

        res = self.run(f"print(repr({expr}))", timeout)
        return ast.literal_eval(res.stdout.strip())

    def run(self, code: str, timeout: float = 60.0, allow_error: bool = False) -> CellResult:
        res = self.wait(self.submit(code), timeout)
        if res.error is not None and not allow_error:
            raise AssertionError(
                f"cell raised {res.error['ename']}: {res.error['evalue']}\n"
                + "\n".join(res.error.get("traceback", []))
            )
        return res

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=False)
