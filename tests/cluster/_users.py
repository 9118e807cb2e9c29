"""A real second Unix user for tests that replay attacks by another local user.

The user is made with `useradd` for the test and deleted after it (that needs root: CI runs the
tests as root; elsewhere they skip, saying so). The attacker's steps run in a forked child that
has dropped to that user's uid and gid (no supplementary groups), so the kernel holds them to
exactly what a classmate on the same machine could do.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LocalUser:
    name: str
    uid: int
    gid: int


def why_no_second_user() -> str | None:
    """Why a throwaway user cannot be made here, or None if it can."""
    if os.geteuid() != 0:
        return "making a second Unix user (useradd) needs root; CI runs these tests as root"
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        return "useradd/userdel are not installed"
    return None


def create_user(prefix: str = "rgt", home: bool = False) -> LocalUser:
    """A new user with its own group (and a home directory if `home`; see `home_of`)."""
    name = f"{prefix}-{os.urandom(4).hex()}"
    how = ["--create-home", "--shell", "/bin/sh"] if home else ["--no-create-home"]
    if not home:
        how += ["--shell", "/usr/sbin/nologin"]
    subprocess.run(
        ["useradd", *how, "--user-group", name], check=True, capture_output=True, timeout=30
    )
    entry = pwd.getpwnam(name)
    return LocalUser(name, entry.pw_uid, entry.pw_gid)


def home_of(user: LocalUser) -> str:
    return pwd.getpwnam(user.name).pw_dir


def delete_user(user: LocalUser) -> None:
    # Nothing of theirs may outlive the test: end their processes, then remove the account.
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == user.uid:
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    subprocess.run(["userdel", user.name], capture_output=True, timeout=30)


def as_user(user: LocalUser, steps: Callable[..., Any], *args: Any, timeout: float = 30) -> None:
    """Run `steps(*args)` in a child process as `user`; raise if it raised (with its traceback)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(user.gid)
            os.setuid(user.uid)
            steps(*args)
            code = 0
        except BaseException:
            os.write(write_end, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise TimeoutError(f"the steps as {user.name} took over {timeout} s")
        time.sleep(0.01)
    with os.fdopen(read_end, "rb") as f:
        error = f.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise AssertionError(f"the steps as {user.name} failed:\n{error}")


def spawn_as(user: LocalUser, argv: list[str]) -> subprocess.Popen:
    """A long-running process of `user` (a target for signals it must never get)."""
    return subprocess.Popen(argv, user=user.uid, group=user.gid, extra_groups=[])
