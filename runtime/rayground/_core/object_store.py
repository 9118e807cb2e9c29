"""Shared-memory segments: one file per large object in the session's directory under /dev/shm.

The producer (a driver's `put`, a worker's return value) writes the packed block once and seals it
by telling the head its name and size; every reader maps the same pages read-only, so `get` of a
NumPy array copies nothing. The head owns capacity: it counts sealed bytes, spills the least
recently used objects to disk when the store is over `object_store_memory`, and unlinks a segment
when the last reference to its object is gone (readers that still map it keep their pages until
they drop their views: unlink only removes the name).

Space is reserved with posix_fallocate, so a full /dev/shm is an ENOSPC error at write time
rather than a SIGBUS later when a page is touched.
"""

from __future__ import annotations

import errno
import mmap
import os
import shutil

from .serialization import SerializedObject


class StoreFullError(OSError):
    """Shared memory could not hold a new object (the head may spill and the writer retry)."""


def segment_path(shm_dir: str, object_id: str) -> str:
    return os.path.join(shm_dir, object_id)


def write_segment(path: str, obj: SerializedObject) -> int:
    """Create the segment at `path` holding `obj`'s packed block; returns its size in bytes."""
    size = obj.total_size
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EFBIG):
                raise StoreFullError(exc.errno, f"no room for {size} bytes in {path}") from None
            raise
        with mmap.mmap(fd, size) as mm:
            view = memoryview(mm)
            try:
                obj.write_into(view)
            finally:
                view.release()
    except BaseException:
        os.close(fd)
        _unlink_quietly(path)
        raise
    os.close(fd)
    return size


def map_segment(path: str) -> memoryview:
    """Map a sealed segment read-only. The mapping lives as long as views onto it do."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    finally:
        os.close(fd)
    return memoryview(mm)


def spill(path: str, spill_dir: str) -> str:
    """Move a segment to disk; returns the new path. Readers that map it already are unaffected."""
    os.makedirs(spill_dir, exist_ok=True)
    target = os.path.join(spill_dir, os.path.basename(path))
    shutil.copyfile(path, target)
    _unlink_quietly(path)
    return target


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


delete_segment = _unlink_quietly
