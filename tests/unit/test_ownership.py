"""What the cluster trusts on a shared machine must be this user's: directories, files, segments,
processes. (The same holes replayed end to end by a real second user: tests/cluster/
test_shared_machine.py.)"""

from __future__ import annotations

import os
import pickle
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from _needs import needs
from rayground._core import lifetime, object_store, ownership
from rayground._core.serialization import serialize

# A uid that is not ours (files are handed to it with chown, which needs root).
STRANGER = 54321
needs_root = needs(
    None if os.geteuid() == 0 else "handing a file to another uid (chown) needs root (CI's is)"
)


class Marker:
    """Unpickling this creates a file: proof that a planted pickle ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _private(path: Path) -> Path:
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)
    return path


# ---------------------------------------------------------------------------- directories
def test_a_missing_root_is_made_owner_only(tmp_path):
    root = tmp_path / "deep" / "root"
    old = os.umask(0o022)
    try:
        ownership.ensure_private_dir(str(root), "the session root")
    finally:
        os.umask(old)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_a_root_open_to_others_is_refused_naming_path_and_why(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    os.chmod(root, 0o755)
    with pytest.raises(ownership.UnsafePathError) as info:
        ownership.ensure_private_dir(str(root), "the session root")
    assert str(root) in str(info.value) and "mode 755" in str(info.value)


def test_a_symlinked_root_is_refused(tmp_path):
    real = _private(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(ownership.UnsafePathError, match="symbolic link"):
        ownership.ensure_private_dir(str(link), "the session root")


@needs_root
def test_a_root_of_another_user_is_refused(tmp_path):
    root = _private(tmp_path / "root")
    os.chown(root, STRANGER, STRANGER)
    with pytest.raises(ownership.UnsafePathError, match=f"uid {STRANGER}"):
        ownership.ensure_private_dir(str(root), "the session root")


def test_exclusive_creation_never_adopts_an_existing_directory(tmp_path):
    """Even a directory of our own, 0700, is refused: whoever made it first is not known."""
    there = _private(tmp_path / "shm")
    with pytest.raises(ownership.UnsafePathError, match="must not exist before"):
        ownership.make_private_dir(str(there), "the shared-memory directory")
    fresh = tmp_path / "fresh"
    old = os.umask(0)
    try:
        ownership.make_private_dir(str(fresh), "the shared-memory directory")
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700


def test_the_session_root_is_per_user(monkeypatch, tmp_path):
    from rayground._core import config

    monkeypatch.delenv("RAYGROUND_TMPDIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    assert config.session_root() == str(tmp_path / f"rayground-{os.geteuid()}")
    runtime_dir = _private(tmp_path / "run")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    assert config.session_root() == str(runtime_dir / "rayground")
    # An inherited runtime directory that is not private to us is not used.
    os.chmod(runtime_dir, 0o755)
    assert config.session_root() == str(tmp_path / f"rayground-{os.geteuid()}")


# ---------------------------------------------------------------------------- files
def test_atomic_write_replaces_a_planted_symlink_instead_of_following_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    latest = tmp_path / "latest"
    latest.symlink_to(victim)
    old = os.umask(0o022)
    try:
        ownership.write_atomically(str(latest), b"/some/session")
    finally:
        os.umask(old)
    assert victim.read_text() == "keep me"
    assert not latest.is_symlink() and latest.read_bytes() == b"/some/session"
    assert stat.S_IMODE(latest.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_reading_through_a_symlink_is_refused(tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"x")
    link = tmp_path / "head.json"
    link.symlink_to(target)
    with pytest.raises(OSError):
        ownership.read_private(str(link))


@needs_root
def test_a_file_of_another_user_is_not_read(tmp_path):
    planted = tmp_path / "token"
    planted.write_bytes(b"attacker's token")
    os.chown(planted, STRANGER, STRANGER)
    with pytest.raises(ownership.UnsafePathError, match=f"uid {STRANGER}"):
        ownership.read_private(str(planted))


# ---------------------------------------------------------------------------- segments
def _evil_segment(path: Path, marker: Path) -> None:
    path.write_bytes(serialize(Marker(marker)).to_bytes())


@needs_root
def test_a_planted_segment_is_never_unpickled(tmp_path):
    from rayground._core.serialization import deserialize

    shm = _private(tmp_path / "shm")
    marker = tmp_path / "ran"
    _evil_segment(shm / "o1", marker)
    os.chown(shm / "o1", STRANGER, STRANGER)
    with pytest.raises(ownership.UnsafePathError):
        deserialize(object_store.map_segment(str(shm / "o1")))
    with pytest.raises(ownership.UnsafePathError):
        object_store.MappingCache().map(str(shm / "o1"))
    assert not marker.exists()


def test_a_segment_name_that_is_a_symlink_is_not_followed(tmp_path):
    shm = _private(tmp_path / "shm")
    elsewhere = tmp_path / "elsewhere"
    _evil_segment(elsewhere, tmp_path / "ran")
    (shm / "o1").symlink_to(elsewhere)
    with pytest.raises(OSError):
        object_store.map_segment(str(shm / "o1"))
    assert not (tmp_path / "ran").exists()


@needs_root
def test_a_planted_recycled_segment_is_not_written_into(tmp_path):
    """A file in the recycled pool that is not ours is refused: writing our object into it
    would let its owner (who can keep it open) read or change it."""
    shm = _private(tmp_path / "shm")
    pool = _private(shm / object_store.POOL_DIR)
    planted = pool / f"{1 << 20}-1"
    planted.write_bytes(b"\0" * (1 << 20))
    os.chown(planted, STRANGER, STRANGER)
    value = serialize(b"secret" * 150_000)
    kept_open = os.open(planted, os.O_RDONLY)  # what its owner would do
    try:
        with pytest.raises(ownership.UnsafePathError):
            object_store.SegmentWriter().write(str(shm / "o1"), value)
        assert b"secret" not in os.pread(kept_open, 1 << 20, 0)
    finally:
        os.close(kept_open)
    assert not (shm / "o1").exists()  # the planted file is gone from our directory


def test_spilled_files_are_private_whatever_the_umask(tmp_path):
    shm = _private(tmp_path / "shm")
    spill_dir = tmp_path / "session" / "spill"
    (tmp_path / "session").mkdir(mode=0o700)
    old = os.umask(0o022)
    try:
        size = object_store.write_segment(str(shm / "o1"), serialize(b"x" * 200_000))
        target = object_store.spill(str(shm / "o1"), str(spill_dir))
    finally:
        os.umask(old)
    assert stat.S_IMODE(spill_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert os.path.getsize(target) == size and not (shm / "o1").exists()
    assert pickle.loads(pickle.dumps(bytes(object_store.map_segment(target)))) is not None


# ---------------------------------------------------------------------------- processes
def _wait_for_exec(pid: int, marker: str, timeout: float = 10.0) -> None:
    """Until the child has exec'd its command (before that it is a copy of this process)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not start {marker!r} within {timeout} s")


def test_only_the_recorded_process_is_signalled():
    """A pid alone proves nothing (pids are reused): the start time and command must match."""
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "rayground-test-sleeper"]
    )
    marker = "rayground-test-sleeper"
    try:
        _wait_for_exec(sleeper.pid, marker)
        ticks = ownership.process_start_ticks(sleeper.pid)
        assert ticks is not None
        assert not ownership.signal_our_process(sleeper.pid, ticks + 1, marker, signal.SIGTERM)
        assert not ownership.signal_our_process(
            sleeper.pid, ticks, lifetime.HEAD_COMMAND, signal.SIGTERM
        )
        assert sleeper.poll() is None
        assert ownership.signal_our_process(sleeper.pid, ticks, marker, signal.SIGTERM)
        assert sleeper.wait(timeout=10) == -signal.SIGTERM
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
