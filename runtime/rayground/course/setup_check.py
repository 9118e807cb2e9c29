"""`setup_check()`: lesson 00's "does everything work here?", one line per thing a lesson needs."""

from __future__ import annotations

import os
import sys
import tempfile

from .lesson import Text
from .observe import api, backend
from .progress import progress_path


def setup_check() -> Text:
    """Check the Python version, the cluster, a task, the object store and the progress file.

    Lines are stable text (no timings, pids or paths) so lesson 00 can be compared strictly.
    """
    lines: list[str] = []

    def line(ok: bool, text: str) -> None:
        lines.append(f"{'✓' if ok else '✗'} {text}")

    line(sys.version_info >= (3, 10), "Python 3.10 or newer")
    kind = backend()
    if kind == "none":
        line(False, "no cluster yet: run %ray_init (or ray.init()) first")
        return Text("\n".join(lines))
    line(True, f"connected to a {kind} cluster")
    ray = api()
    cpus = ray.cluster_resources().get("CPU", 0)
    line(cpus >= 1, "the cluster has CPUs to run tasks" if cpus else "the cluster has no CPUs")

    @ray.remote
    def _pid() -> int:
        return os.getpid()

    try:
        pid = ray.get(_pid.remote(), timeout=60)
        line(pid != os.getpid(), "a task ran in a worker process")
    except Exception as exc:
        line(False, f"a task failed: {type(exc).__name__}: {exc}")
    try:
        import numpy as np

        arr = np.arange(1 << 18, dtype=np.int32)  # 1 MiB: goes to shared memory, not inline
        back = ray.get(ray.put(arr), timeout=60)
        line(bool((back == arr).all()), "the object store keeps a 1 MiB array and gives it back")
    except Exception as exc:
        line(False, f"the object store failed: {type(exc).__name__}: {exc}")
    try:
        target = progress_path().parent
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target):
            pass
        line(True, "your progress can be saved")
    except OSError as exc:
        line(False, f"progress cannot be saved ({exc}); set RAYGROUND_PROGRESS_FILE")
    return Text("\n".join(lines))
