"""Worker output to the driver: `print` inside a task shows up in the driver as
`(fetch_data pid=8068) text`, as in Ray.

sys.stdout and sys.stderr of a worker are replaced by writers that split text into lines and queue
each complete line, tagged with the running task's prefix, job and task id, on the client's ordered
outbox (a line is `(prefix, stream, text, task_id)`; the task id lets a notebook show it under
the cell that launched the task);
the I/O thread sends queued lines within tens of milliseconds, batched. Output outside any task
(import-time prints, our own diagnostics) goes to the worker's log file only.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable
from typing import Any

from . import context


class TaskOutput(io.TextIOBase):
    def __init__(self, client: Any, stream: str, fallback: Any) -> None:
        self._client = client
        self._stream = stream
        self._fallback = fallback
        self._partial = threading.local()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        ctx = context.task_context()
        if not ctx:
            self._fallback.write(text)
            return len(text)
        buf = getattr(self._partial, "text", "") + text
        *lines, rest = buf.split("\n")
        self._partial.text = rest
        prefix = ctx.get("log_prefix", "")
        job_id = ctx.get("job_id") or ""
        task_id = ctx.get("task_id")
        for line in lines:
            self._client.queue_log(job_id, (prefix, self._stream, line, task_id))
        return len(text)

    def flush(self) -> None:
        rest = getattr(self._partial, "text", "")
        ctx = context.task_context()
        if rest and ctx:
            self._partial.text = ""
            self._client.queue_log(
                ctx.get("job_id") or "",
                (ctx.get("log_prefix", ""), self._stream, rest, ctx.get("task_id")),
            )
        self._fallback.flush()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fallback.fileno()


def install_task_output(client: Any) -> None:
    sys.stdout = TaskOutput(client, "stdout", sys.__stdout__)
    sys.stderr = TaskOutput(client, "stderr", sys.__stderr__)


# A driver-side replacement for printing (the Jupyter layer routes lines to the launching cell).
driver_sink: Callable[[list[tuple]], None] | None = None


def print_lines(lines: list[tuple]) -> None:
    """Driver side: print forwarded worker lines with their prefix."""
    sink = driver_sink
    if sink is not None:
        try:
            sink(lines)
            return
        except Exception:  # never lose a line: fall back to printing
            pass
    out: list[str] = []
    err: list[str] = []
    for prefix, stream, text, *_ in lines:
        (err if stream == "stderr" else out).append(f"{prefix} {text}\n")
    if out:
        sys.stdout.write("".join(out))
        sys.stdout.flush()
    if err:
        sys.stderr.write("".join(err))
        sys.stderr.flush()
