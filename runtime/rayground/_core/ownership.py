"""What belongs to this Unix user: private directories, private files, our own processes.

On a machine shared with other users (a class on one JupyterHub node), `/tmp` and `/dev/shm` are
writable by everyone. Anything the cluster trusts there (a session root, a shared-memory
directory, a segment, `latest`, `head.json`, a pid to signal) must be proved ours before use:

* a directory: not a symbolic link, owned by us, no access for group or others (0700);
* a file: opened with O_NOFOLLOW and checked (owner, regular file) through the open descriptor,
  so what is checked is what is read;
* a file we write where others could look: a temporary name created exclusively, then renamed
  into place (rename replaces a symlink instead of following it);
* a process: owned by us and the very process we recorded (its start time and command line), not
  another that got the same pid after ours died.

Non-goal: protection from root or from this same user (the trusted one: docs/security.md).
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass

# A directory or file nobody but its owner may touch: these bits must all be clear.
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


class UnsafePathError(PermissionError):
    """A path the cluster was about to trust belongs to someone else or is open to others."""


def _owner_name(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _problem(path: str, st: os.stat_result, want_dir: bool) -> str | None:
    """Why `path` (lstat result `st`) is not ours to trust, or None if it is."""
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link (another user may have planted it)"
    if want_dir and not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if not want_dir and not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    if st.st_uid != os.geteuid():
        return (
            f"it belongs to {_owner_name(st.st_uid)}, not to you ({_owner_name(os.geteuid())}); "
            "another user may have created it first"
        )
    if want_dir and st.st_mode & _OTHERS:
        return f"other users may use it (mode {stat.S_IMODE(st.st_mode):o}, must be 700)"
    return None


def check_private_dir(path: str, what: str) -> None:
    """Raise UnsafePathError unless `path` is a real directory of ours that only we can use."""
    problem = _problem(path, os.lstat(path), want_dir=True)
    if problem is not None:
        raise UnsafePathError(
            f"rayground refuses to use {what} {path}: {problem}. Remove it (or `chmod 700` it "
            "if it is yours), or set RAYGROUND_TMPDIR to a directory only you can write."
        )


def ensure_private_dir(path: str, what: str) -> None:
    """Create `path` owner-only if it is missing (its parents as usual), then check it is ours:
    a directory that already exists is used only if check_private_dir accepts it."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    check_private_dir(path, what)


def make_private_dir(path: str, what: str) -> None:
    """Create `path` owner-only; refuse if anything is there already (exclusive creation: a
    directory someone else made first under this name is never adopted)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = os.lstat(path)
        why = _problem(path, st, want_dir=True) or "it exists already"
        raise UnsafePathError(
            f"rayground refuses to use {what} {path}: {why}. It must not exist before rayground "
            "creates it; remove it and try again."
        ) from None
    # mkdir's mode is filtered by the umask: make sure of 0700 whatever the caller's umask.
    os.chmod(path, 0o700)


def open_private(path: str, flags: int = os.O_RDONLY) -> int:
    """Open an existing file without following a symlink and check, on the descriptor, that it
    is a regular file of ours. Returns the descriptor."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        problem = _problem(path, os.fstat(fd), want_dir=False)
    except BaseException:
        os.close(fd)
        raise
    if problem is not None:
        os.close(fd)
        raise UnsafePathError(f"rayground refuses to read {path}: {problem}")
    return fd


def read_private(path: str) -> bytes:
    """The bytes of a file of ours (see open_private)."""
    with os.fdopen(open_private(path), "rb") as f:
        return f.read()


def write_atomically(path: str, data: bytes) -> None:
    """Replace `path` with `data` in one step: readers see the old or the new file, never half
    of one, and a symlink planted at `path` is replaced, never followed. The file is 0600."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    # Security: O_EXCL|O_NOFOLLOW: never write through a file or link someone else put there.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def open_log(path: str) -> int:
    """An append-only log file of ours, 0600 whatever the umask (a link there is refused)."""
    return os.open(
        path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )


# ---------------------------------------------------------------------------- processes
@dataclass(frozen=True)
class ProcessStamp:
    """What identifies one process for its whole life: pid numbers are reused, a pid together
    with its start time (clock ticks since boot, /proc/<pid>/stat field 22) is not."""

    pid: int
    start_ticks: int

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start_ticks": self.start_ticks}


def process_start_ticks(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot); None if it is gone or unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
            fields = f.read().rsplit(b")", 1)[1].split()
        if fields[0] in (b"Z", b"X"):
            return None  # exited, not reaped yet: dead for our purposes
        return int(fields[19])  # field 22 counted from 1; fields[0] is field 3
    except (OSError, IndexError, ValueError):
        return None


def this_process() -> ProcessStamp:
    ticks = process_start_ticks(os.getpid())
    return ProcessStamp(os.getpid(), ticks if ticks is not None else -1)


def is_our_process(pid: int, start_ticks: int | None, command_marker: str) -> bool:
    """Whether `pid` is still the process we recorded: alive, owned by us, with
    `command_marker` in its command line and (unless `start_ticks` is None: not recorded) started
    at `start_ticks`. Only such a process may be signalled: a pid in a file may name someone
    else's process, or one of ours that got the number after ours died."""
    try:
        if os.stat(f"/proc/{pid}").st_uid != os.geteuid():
            return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if command_marker not in cmdline:
        return False
    started = process_start_ticks(pid)
    return started is not None and (start_ticks is None or started == start_ticks)


def signal_our_process(pid: int, start_ticks: int | None, command_marker: str, sig: int) -> bool:
    """Send `sig` to `pid` only if it is the process we recorded (is_our_process); True if sent.

    The check and the signal go through one pidfd, which names that very process: were it to
    exit and its pid be reused between the check and the signal, the signal would fail instead
    of reaching the newcomer."""
    import signal

    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, PermissionError):
        return False
    except (AttributeError, OSError):
        fd = None  # no pidfds (old kernel): the check and kill are then separate steps
    try:
        if not is_our_process(pid, start_ticks, command_marker):
            return False
        if fd is None:
            os.kill(pid, sig)
        else:
            signal.pidfd_send_signal(fd, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        if fd is not None:
            os.close(fd)
