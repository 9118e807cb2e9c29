"""Every default and environment override of the runtime, in one place.

Environment variables (all optional):
    RAYGROUND_TMPDIR            where session directories live (default: per user, see session_root)
    RAYGROUND_SHM_DIR           where shared-memory objects live (default: /dev/shm)
    RAYGROUND_INLINE_MAX        objects up to this size travel inside messages (default 100 KiB)
    RAYGROUND_TASK_HISTORY      finished tasks kept for the state API (default: Ray's knob for it,
                                RAY_task_events_max_num_task_in_gcs, else 100,000 as in Ray)
    RAYGROUND_EVENT_BUFFER      events kept for subscribers that fall behind (default 200,000)
    RAYGROUND_SPILL_LIMIT       bytes the store may spill to disk (default 0: what the disk holds)
    RAYGROUND_HELLO_TIMEOUT     seconds a new connection has to authenticate (default 10)
    RAYGROUND_KEEP_SESSIONS     directories (logs) of ended sessions kept per user (default 20)
    RAYGROUND_MAX_UNAUTHENTICATED          TCP connections in their handshake (default 1024)
    RAYGROUND_MAX_UNAUTHENTICATED_PER_PEER ... of them from one host (default 256)
    RAYGROUND_OBJECT_SERVER_THREADS        transfers an object server runs at once (default 32)
"""

from __future__ import annotations

import os
import tempfile

PROTOCOL_VERSION = 2  # 2: the challenge-response handshake (handshake.py)


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an integer; unset it or give a number") from None


def session_root() -> str:
    """Where this user's session directories live: RAYGROUND_TMPDIR if set, else
    `$XDG_RUNTIME_DIR/rayground` where that directory exists and is this user's, else
    `<tmp>/rayground-<uid>`. Never one root shared by every user: whoever creates a shared root
    first controls what the others find there (lifetime.private_root checks it on every use)."""
    configured = os.environ.get("RAYGROUND_TMPDIR")
    if configured:
        return configured
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        try:
            st = os.stat(runtime_dir)
        except OSError:
            st = None
        # An inherited XDG_RUNTIME_DIR (su, a spawner) may be another user's: only ours counts.
        if st is not None and st.st_uid == os.geteuid() and not st.st_mode & 0o077:
            return os.path.join(runtime_dir, "rayground")
    return os.path.join(tempfile.gettempdir(), f"rayground-{os.geteuid()}")


def shm_root() -> str:
    configured = os.environ.get("RAYGROUND_SHM_DIR")
    if configured:
        return configured
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


# Below this size a value is copied into the message that carries it; above it, it is written once
# to shared memory and only its name travels. 100 KiB is where Ray also stops inlining.
INLINE_MAX = _int_env("RAYGROUND_INLINE_MAX", 100 * 1024)
TASK_HISTORY = _int_env(
    "RAYGROUND_TASK_HISTORY", _int_env("RAY_task_events_max_num_task_in_gcs", 100_000)
)
EVENT_BUFFER = _int_env("RAYGROUND_EVENT_BUFFER", 200_000)
SPILL_LIMIT = _int_env("RAYGROUND_SPILL_LIMIT", 0)
# Ended sessions keep their directories (their logs) until this many newer ones have ended.
KEEP_SESSIONS = _int_env("RAYGROUND_KEEP_SESSIONS", 20)
HELLO_TIMEOUT = float(os.environ.get("RAYGROUND_HELLO_TIMEOUT") or 10.0)
# TCP connections still in their handshake, in all and from one peer host: beyond these a new
# connection is closed at once. A real peer's handshake takes a millisecond or two; the per-host
# cap leaves room for a large node whose workers all connect at once. The cluster's own local
# processes use the Unix socket (owner-only), which is not capped.
MAX_UNAUTHENTICATED = _int_env("RAYGROUND_MAX_UNAUTHENTICATED", 1024)
MAX_UNAUTHENTICATED_PER_PEER = _int_env("RAYGROUND_MAX_UNAUTHENTICATED_PER_PEER", 256)
# Transfers an object server runs at once; a connection beyond them is closed at once.
OBJECT_SERVER_THREADS = _int_env("RAYGROUND_OBJECT_SERVER_THREADS", 32)

# The largest frame the head accepts. Data above INLINE_MAX never travels in frames, so this bounds
# what a confused or hostile peer can make the head allocate.
MAX_FRAME = 64 * 1024 * 1024

DEFAULT_MAX_RETRIES = 3  # as Ray
DEFAULT_STORE_FRACTION = 0.3  # of RAM, as Ray
WORKER_START_TIMEOUT = 30.0
IDLE_WORKER_TIMEOUT = 60.0  # surplus idle workers above num_cpus are stopped after this
SHUTDOWN_GRACE = 2.0  # seconds a process gets between SIGTERM and SIGKILL


def default_object_store_memory() -> int:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 8 * 1024**3
    size = int(total * DEFAULT_STORE_FRACTION)
    try:
        st = os.statvfs(shm_root())
        size = min(size, int(st.f_bavail * st.f_frsize * 0.9))
    except OSError:
        pass
    return max(size, 64 * 1024**2)
