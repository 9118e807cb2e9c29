"""Shared-memory segments: one file per large object in the session's directory under /dev/shm.

The producer (a driver's `put`, a worker's return value) writes the packed block once and seals it
by telling the head its name and size; every reader maps the same pages read-only, so `get` of a
NumPy array copies nothing. The head owns capacity: it counts sealed bytes, spills the least
recently used objects to disk when the store is over `object_store_memory`, and unlinks a segment
when the last reference to its object is gone (readers that still map it keep their pages until
they drop their views: unlink only removes the name).

New segments are written with pwritev, so a full /dev/shm is an ENOSPC error at write time
rather than a SIGBUS later when a page is touched; recycled segments, whose pages exist already,
are written through a mapping by several threads (`SegmentWriter`).

Security: readers unpickle what a segment holds, so a segment is opened without following a
symlink and used only if it is a regular file of ours (`ownership.open_private`), recycled ones
too; the directory itself is owner-only (lifetime.make_shm_dir). Spilled copies are 0600 in an
owner-only directory.
"""

from __future__ import annotations

import errno
import itertools
import mmap
import os
import threading
from collections.abc import Collection
from concurrent.futures import Executor

from . import libc, ownership
from .serialization import SerializedObject


class StoreFullError(OSError):
    """Shared memory could not hold a new object (the head may spill and the writer retry)."""


def segment_path(shm_dir: str, object_id: str) -> str:
    return os.path.join(shm_dir, object_id)


class SegmentWriter:
    """Writes packed blocks into new segments for one process.

    A fresh segment is written with pwritev: the kernel copies straight into new page-cache pages
    (no page faults), and a full /dev/shm is an ENOSPC error here rather than a SIGBUS later. A
    recycled segment (see `claim_recycled`) already has its pages, so it is written through a
    mapping instead, by several threads at once: that is what lets a large `put` outrun one
    core's memory copy. The writer keeps its writable mappings of the recycled segments it has
    filled (a few, keyed by inode): the next time it claims one of them the page tables are set
    up already and the write is a plain parallel memory copy.

    A kept mapping holds its pages while the segment is in use or in the pool, which costs
    nothing; once the head unlinks the file it would pin them, so mappings of unlinked files are
    dropped at every write and whenever the owner calls `purge`.
    """

    PARALLEL_MIN = 16 << 20  # smaller buffers are copied by the calling thread alone
    MIN_PIECE = 8 << 20  # a parallel copy's pieces are never smaller than this

    def __init__(self, max_maps: int = 4) -> None:
        self.max_maps = max_maps
        self._maps: dict[int, tuple[int, mmap.mmap]] = {}  # inode -> (fd, writable mapping)
        # The writer and its helpers, one per core: a third copying thread on two cores ran the
        # copy of 1 GB at half the speed of two (the threads took turns on the cores).
        self.helper_count = min(3, len(os.sched_getaffinity(0)) - 1)
        self._copier: Executor | None = None  # made at the first large write
        self._generation = 0
        self._lock = threading.Lock()  # writes and purges may come from different threads

    def write(self, path: str, obj: SerializedObject) -> int:
        """Create the segment at `path` holding `obj`'s packed block; returns its size in bytes."""
        with self._lock:
            self._purge()
            return self._write(path, obj)

    def _write(self, path: str, obj: SerializedObject) -> int:
        size = obj.total_size
        pool = os.path.join(os.path.dirname(path), POOL_DIR)
        recycled = claim_recycled(pool, size, path, prefer=self._maps.keys())
        if recycled:
            # Its pages may hold what it held before: it must be ours, not something planted
            # (its owner could keep it open and read or change what we write).
            try:
                fd = ownership.open_private(path, os.O_RDWR)
            except OSError:
                _unlink_quietly(path)
                raise
        else:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            if recycled:
                os.ftruncate(fd, size)
                self._write_mapped(fd, size, obj)
            else:
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

    def _helpers(self) -> Executor:
        if self._copier is None:
            from concurrent.futures import ThreadPoolExecutor

            self._copier = ThreadPoolExecutor(
                max(1, self.helper_count), thread_name_prefix="rg-copy"
            )
        return self._copier

    def _evict(self) -> None:
        while len(self._maps) > self.max_maps:
            _close_map(self._maps.pop(next(iter(self._maps))))

    def _write_mapped(self, fd: int, size: int, obj: SerializedObject) -> None:
        inode = os.fstat(fd).st_ino
        kept = self._maps.pop(inode, None)
        if kept is not None and len(kept[1]) < size:
            _close_map(kept)
            kept = None
        fresh = kept is None
        if kept is None:
            kept = (os.dup(fd), _mapping(fd, size))
        self._maps[inode] = kept  # most recently used last
        self._evict()
        # A fresh mapping's page tables are set up piece by piece, each by the thread that
        # copies the piece: spread over the copying threads instead of paid up front (and never
        # by a background thread between writes, whose hold on this process's memory map made
        # the next `get`'s mmap wait for it).
        base = libc.address_of(kept[1]) if fresh and size and libc.can_populate() else None
        target = memoryview(kept[1])
        try:
            for offset, piece in obj.placed_pieces():
                start = None if base is None else base + offset
                if piece.nbytes >= self.PARALLEL_MIN:
                    self._copy_parallel(target[offset : offset + piece.nbytes], piece, start)
                else:
                    if start is not None:
                        libc.populate(start, piece.nbytes)
                    target[offset : offset + piece.nbytes] = piece
        finally:
            target.release()

    def _copy_parallel(self, target: memoryview, source: memoryview, start: int | None) -> None:
        """Copy in pieces taken in turn by this thread and the helpers (if any): a helper that
        wakes late (an idle core) takes fewer pieces instead of holding up the copy. Each piece
        is copied with streaming stores where this process can (`stream_copy`), after its page
        tables are set up where `start` (the target's address) is given."""
        import numpy as np  # the buffers this is for are NumPy arrays: it is loaded already

        from . import stream_copy

        pool = self._helpers()
        dst = np.frombuffer(target, dtype=np.uint8)
        src = np.frombuffer(source, dtype=np.uint8)
        total = len(src)
        # Two pieces per participant: few enough that the copies run long and undisturbed
        # (8 MiB pieces ran at two thirds of the speed for 1 GB), enough that a helper that
        # starts late leaves its share to the others.
        chunk = max(self.MIN_PIECE, -(-total // (2 * (self.helper_count + 1))))
        turns = itertools.count()  # next() on a count is atomic: each piece is taken once

        def take_pieces() -> None:
            while (begin := next(turns) * chunk) < total:
                if start is not None:
                    libc.populate(start + begin, min(chunk, total - begin))
                stream_copy.copy(dst[begin : begin + chunk], src[begin : begin + chunk])

        helping = [pool.submit(take_pieces) for _ in range(self.helper_count)]
        take_pieces()
        for helper in helping:
            # A helper that has not started has nothing left to take: no need to wait for it.
            if not helper.cancel():
                helper.result()

    def purge(self) -> None:
        """Drop mappings of segments that are gone, so they pin no memory (skipped while a
        write is under way: that write purges first)."""
        if self._maps and self._lock.acquire(blocking=False):
            try:
                self._purge()
            finally:
                self._lock.release()

    def _purge(self) -> None:
        for inode, kept in list(self._maps.items()):
            try:
                gone = os.fstat(kept[0]).st_nlink == 0
            except OSError:
                gone = True
            if gone:
                _close_map(self._maps.pop(inode))

    def close(self) -> None:
        with self._lock:
            self._generation += 1  # a mapping still being made in the background is dropped
            for kept in self._maps.values():
                _close_map(kept)
            self._maps.clear()
            if self._copier is not None:
                self._copier.shutdown(wait=False, cancel_futures=True)
                self._copier = None


_MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


def _mapping(fd: int, size: int) -> mmap.mmap:
    """A writable mapping of a recycled segment. Its page tables are set up before each piece
    is copied (`libc.populate`): faulting them in one page at a time during a copy would cost
    more than the copy itself. Where the kernel cannot (before Linux 5.14) they are all set up
    here with MAP_POPULATE, which holds the GIL throughout."""
    if size == 0 or libc.can_populate():
        return mmap.mmap(fd, size, flags=mmap.MAP_SHARED)
    return mmap.mmap(fd, size, flags=mmap.MAP_SHARED | _MAP_POPULATE)


def _close_map(kept: tuple[int, mmap.mmap]) -> None:
    fd, mapping = kept
    try:
        mapping.close()
    except BufferError:
        pass  # a view is still alive; the mapping goes when it does
    os.close(fd)


_writer = SegmentWriter()


def _reset_writer_after_fork() -> None:
    # The copy threads do not exist in a forked child, and the parent's mappings are its own.
    global _writer
    _writer = SegmentWriter()


os.register_at_fork(after_in_child=_reset_writer_after_fork)


def write_segment(path: str, obj: SerializedObject) -> int:
    """Create the segment at `path` holding `obj`'s packed block (see `SegmentWriter`)."""
    return _writer.write(path, obj)


def close_writer() -> None:
    """Drop every kept write mapping: the session they belong to is ending."""
    _writer.close()


def purge_writer() -> None:
    """Let this process's kept write mappings of freed segments go (see `SegmentWriter`)."""
    _writer.purge()


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


def claim_recycled(pool: str, size: int, target: str, prefer: Collection[int] = ()) -> bool:
    """Take a recycled segment of at least `size` (and at most twice it) by renaming it to
    `target`; the smallest that fits, one whose inode is in `prefer` first (the caller has it
    mapped). Rename is atomic, so two writers can never take the same one."""
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
            fits.append((not _has_inode(os.path.join(pool, name), prefer), have, name))
    for _, _, name in sorted(fits):
        try:
            os.rename(os.path.join(pool, name), target)
            return True
        except FileNotFoundError:
            continue  # another writer took it first
    return False


def _has_inode(path: str, inodes: Collection[int]) -> bool:
    if not inodes:
        return False
    try:
        return os.stat(path).st_ino in inodes
    except FileNotFoundError:
        return False


def recycle(path: str, size: int, serial: int) -> str | None:
    """Keep a freed segment's pages for the next large write instead of unlinking them."""
    pool = os.path.join(os.path.dirname(path), POOL_DIR)
    os.makedirs(pool, mode=0o700, exist_ok=True)  # inside our owner-only directory
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
    """Map a sealed segment read-only. The mapping lives as long as views onto it do.

    Security: what is mapped gets unpickled, so only a regular file of ours is mapped, never
    through a symlink (raises ownership.UnsafePathError)."""
    fd = ownership.open_private(path)
    try:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    finally:
        os.close(fd)
    return memoryview(mm)


class MappingCache:
    """This process's recent mappings, reused while the segment's file is the same one.

    A worker that gets the same large argument for task after task (one `put`, many tasks) maps
    it once instead of paying the mmap and its page faults every time. A hit is checked against
    the file's inode: segments are never rewritten in place under the same inode and name, so a
    matching inode means the same bytes. Entries whose file is gone (the object was freed or
    spilled) are dropped at the next lookup or `purge`, so a cached mapping pins freed memory
    only briefly.
    """

    def __init__(self, max_entries: int = 16) -> None:
        self.max_entries = max_entries
        self._maps: dict[str, tuple[tuple[int, int, int], memoryview]] = {}

    def __len__(self) -> int:
        return len(self._maps)

    def map(self, path: str) -> memoryview:
        if not self.max_entries:
            return map_segment(path)
        stat = os.stat(path)
        key = (stat.st_ino, stat.st_dev, stat.st_size)
        hit = self._maps.pop(path, None)
        if hit is not None and hit[0] == key:
            self._maps[path] = hit  # most recently used last
            return hit[1]
        view = map_segment(path)
        self.purge()
        self._maps[path] = (key, view)
        while len(self._maps) > self.max_entries:
            del self._maps[next(iter(self._maps))]
        return view

    def purge(self) -> None:
        """Forget mappings whose file is gone or replaced."""
        for path, (key, _) in list(self._maps.items()):
            try:
                stat = os.stat(path)
            except OSError:
                del self._maps[path]
                continue
            if (stat.st_ino, stat.st_dev, stat.st_size) != key:
                del self._maps[path]


def spill(path: str, spill_dir: str) -> str:
    """Move a segment to disk; returns the new path. Readers that map it already are unaffected.
    The spill directory is 0700 and each spilled file 0600, whatever the umask."""
    os.makedirs(spill_dir, mode=0o700, exist_ok=True)  # inside the owner-only session directory
    target = os.path.join(spill_dir, os.path.basename(path))
    src = ownership.open_private(path)
    try:
        _unlink_quietly(target)  # an older copy under this name (an object made again)
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            _copy_all(src, dst, os.fstat(src).st_size)
        except OSError:
            _unlink_quietly(target)  # a disk that filled halfway: leave no partial copy
            raise
        finally:
            os.close(dst)
    finally:
        os.close(src)
    _unlink_quietly(path)
    return target


def _copy_all(src: int, dst: int, size: int) -> None:
    offset = 0
    while offset < size:
        sent = os.sendfile(dst, src, offset, size - offset)
        if sent == 0:
            raise OSError(errno.EIO, f"the segment ended at {offset} of {size} bytes")
        offset += sent


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


delete_segment = _unlink_quietly
