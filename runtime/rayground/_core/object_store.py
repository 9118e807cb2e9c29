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
    """Create the segment at `path` holding `obj`'s packed block; returns its size in bytes.

    Written with pwritev, not through a mapping: the kernel copies straight into the page cache
    (no page faults), and a full /dev/shm is an ENOSPC error here rather than a SIGBUS later. A
    recycled segment (see `claim_recycled`) is used when one fits: its pages already exist, which
    is what makes a large `put` run at memory-copy speed.
    """
    size = obj.total_size
    pool = os.path.join(os.path.dirname(path), POOL_DIR)
    recycled = claim_recycled(pool, size, path)
    flags = os.O_RDWR if recycled else os.O_CREAT | os.O_EXCL | os.O_RDWR
    fd = os.open(path, flags, 0o600)
    try:
        if recycled:
            os.ftruncate(fd, size)
        _pwrite_all(fd, obj.iovecs())
    except OSError as exc:
        os.close(fd)
        _unlink_quietly(path)
        if exc.errno in (errno.ENOSPC, errno.EFBIG):
            raise StoreFullError(exc.errno, f"no room for {size} bytes in {path}") from None
        raise
    except BaseException:
        os.close(fd)
        _unlink_quietly(path)
        raise
    os.close(fd)
    return size


def _pwrite_all(fd: int, pieces: list) -> None:
    offset = 0
    views = [memoryview(p) for p in pieces if len(p)]
    while views:
        batch = views[:512]  # below IOV_MAX
        written = os.pwritev(fd, batch, offset)
        offset += written
        # Drop what was written; a short write leaves the rest of a piece for the next round.
        while written and views:
            head = views[0]
            if written >= head.nbytes:
                written -= head.nbytes
                views.pop(0)
            else:
                views[0] = head[written:]
                written = 0


POOL_DIR = "recycled"


def claim_recycled(pool: str, size: int, target: str) -> bool:
    """Take a recycled segment of at least `size` (and at most twice it) by renaming it to
    `target`. Rename is atomic, so two writers can never take the same one."""
    try:
        names = os.listdir(pool)
    except FileNotFoundError:
        return False
    fits = []
    for name in names:
        try:
            have = int(name.split("-", 1)[0])
        except ValueError:
            continue
        if size <= have <= 2 * size:
            fits.append((have, name))
    for _, name in sorted(fits):
        try:
            os.rename(os.path.join(pool, name), target)
            return True
        except FileNotFoundError:
            continue  # another writer took it first
    return False


def recycle(path: str, size: int, serial: int) -> str | None:
    """Keep a freed segment's pages for the next large write instead of unlinking them."""
    pool = os.path.join(os.path.dirname(path), POOL_DIR)
    os.makedirs(pool, exist_ok=True)
    target = os.path.join(pool, f"{size}-{serial}")
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    return target


def recycled_bytes(pool: str) -> int:
    total = 0
    try:
        for name in os.listdir(pool):
            try:
                total += int(name.split("-", 1)[0])
            except ValueError:
                pass
    except FileNotFoundError:
        pass
    return total


def trim_recycled(pool: str, keep: int) -> None:
    """Unlink recycled segments, largest first, until at most `keep` bytes remain."""
    try:
        names = sorted(os.listdir(pool), key=lambda n: -int(n.split("-", 1)[0]))
    except (FileNotFoundError, ValueError):
        return
    total = recycled_bytes(pool)
    for name in names:
        if total <= keep:
            return
        size = int(name.split("-", 1)[0])
        _unlink_quietly(os.path.join(pool, name))
        total -= size


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
    try:
        shutil.copyfile(path, target)
    except OSError:
        _unlink_quietly(target)  # a disk that filled halfway: leave no partial copy
        raise
    _unlink_quietly(path)
    return target


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


delete_segment = _unlink_quietly
