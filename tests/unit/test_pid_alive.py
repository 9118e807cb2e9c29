"""`pid_alive`: what the CLI, the session sweeper and the lab server decide liveness with. A process
that exited but was not reaped yet (a zombie) must count as gone, or `rayground stop` and the lab
server's stop button would wait out their timeouts on a head that is already dead."""

import os
import subprocess
import sys
import time

from rayground._core.lifetime import pid_alive


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0].decode()


def test_running_process_is_alive():
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pid_alive(child.pid)
    finally:
        child.kill()
        child.wait(timeout=10)


def test_exited_unreaped_process_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while _state(child.pid) != "Z":  # exited; Popen has not reaped it yet
            assert time.monotonic() < deadline, "the child did not exit within 10 s"
            time.sleep(0.01)
        assert not pid_alive(child.pid)
    finally:
        child.wait(timeout=10)
    assert not pid_alive(child.pid)  # reaped: the pid names nothing
