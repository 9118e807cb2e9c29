"""A cluster started from the panel cannot outlive the Jupyter server that started it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from _labhelpers import start_server, stop_server, wait_for

from rayground._core import lifetime
from rayground._core.lifetime import pid_alive

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_panel_cluster_ends_with_the_server(tmp_path: Path, how: str) -> None:
    server = start_server(tmp_path)
    try:
        status, info = server.request("POST", "/rayground/clusters", {"num_cpus": 1})
        assert status == 201, info
        head_pid = info["pid"]
        assert pid_alive(head_pid)
        if how == "sigkill":
            # No atexit, no cleanup code: the head itself sees its owner die (pidfd).
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait(10)
        else:
            stop_server(server)
        wait_for(lambda: not pid_alive(head_pid), 15, f"head {head_pid} to exit")
        shm = lifetime.shm_dir_for(os.path.join(lifetime.config.session_root(), info["id"]))
        wait_for(lambda: not os.path.exists(shm), 10, f"{shm} removed")
    finally:
        stop_server(server)
