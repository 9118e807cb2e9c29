"""Writing segments: fresh ones, recycled ones through a kept mapping, and the block layout."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from rayground._core import object_store
from rayground._core.serialization import deserialize, serialize

MB = 1 << 20


@pytest.fixture
def shm(tmp_path):
    """A session-like directory with its pool of recycled segments."""
    os.makedirs(tmp_path / object_store.POOL_DIR)
    return tmp_path


def _read(path) -> object:
    with open(path, "rb") as f:
        return deserialize(f.read())


def _recycle(path, serial: int) -> None:
    object_store.recycle(str(path), os.path.getsize(path), serial)


def test_recycled_segment_is_rewritten_through_the_kept_mapping(shm) -> None:
    writer = object_store.SegmentWriter()
    first = np.arange(3 * MB, dtype=np.float64)  # 24 MB: copied by several threads
    writer.write(str(shm / "o1"), serialize(first))
    inode = os.stat(shm / "o1").st_ino
    _recycle(shm / "o1", 1)

    # Each object a little smaller than the last: the page-phase padding varies by up to 4 KiB.
    second = first[1024:][::-1].copy()
    writer.write(str(shm / "o2"), serialize(second))
    assert os.stat(shm / "o2").st_ino == inode  # the pool's pages were reused
    np.testing.assert_array_equal(_read(shm / "o2"), second)
    assert list(writer._maps) == [inode]  # and the writer kept its mapping of them

    _recycle(shm / "o2", 2)
    third = np.full(3 * MB - 2048, 7.5)
    writer.write(str(shm / "o3"), serialize(third))  # the kept mapping's copy path
    np.testing.assert_array_equal(_read(shm / "o3"), third)
    assert list(writer._maps) == [inode]
    writer.close()


def test_a_smaller_object_in_a_larger_recycled_segment(shm) -> None:
    writer = object_store.SegmentWriter()
    writer.write(str(shm / "big"), serialize(np.ones(2 * MB)))
    _recycle(shm / "big", 1)
    small = np.arange(int(1.5 * MB), dtype=np.float64)
    size = writer.write(str(shm / "small"), serialize(small))
    assert os.path.getsize(shm / "small") == size  # trimmed to the new object's size
    np.testing.assert_array_equal(_read(shm / "small"), small)
    writer.close()


def test_writer_prefers_the_segment_it_has_mapped(shm) -> None:
    writer = object_store.SegmentWriter()
    writer.write(str(shm / "a"), serialize(np.zeros(MB)))
    _recycle(shm / "a", 1)
    writer.write(str(shm / "b"), serialize(np.ones(MB - 1024)))  # takes "a"'s pages, maps them
    mapped = os.stat(shm / "b").st_ino
    other = object_store.SegmentWriter()
    other.write(str(shm / "c"), serialize(np.ones(MB - 1024)))  # another process's segment
    _recycle(shm / "c", 2)
    _recycle(shm / "b", 3)
    writer.write(str(shm / "d"), serialize(np.full(MB - 2048, 2.0)))
    assert os.stat(shm / "d").st_ino == mapped
    writer.close()
    other.close()


def test_mappings_of_unlinked_segments_are_dropped(shm) -> None:
    """A kept mapping of a file the head has unlinked would pin its memory."""
    writer = object_store.SegmentWriter()
    writer.write(str(shm / "o1"), serialize(np.ones(MB)))
    _recycle(shm / "o1", 1)
    writer.write(str(shm / "o2"), serialize(np.ones(MB - 1024)))
    assert len(writer._maps) == 1
    os.unlink(shm / "o2")  # the object was freed and not recycled
    writer.purge()
    assert writer._maps == {}
    writer.close()


def test_a_full_store_is_an_error_at_write_time(shm, monkeypatch) -> None:
    def no_room(fd, pieces, offset):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "pwritev", no_room)
    with pytest.raises(object_store.StoreFullError):
        object_store.SegmentWriter().write(str(shm / "o1"), serialize(np.ones(MB)))
    assert not (shm / "o1").exists()  # nothing half-written is left


@pytest.mark.parametrize("shift", [0, 16, 64, 2048, 4032])
def test_large_buffers_sit_half_a_page_from_their_source(shift) -> None:
    """Large buffers are placed away from their source's page offset (a copy between addresses
    just apart modulo 4 KiB runs at half speed); the value reads back the same, still aligned."""
    backing = np.zeros(2 * MB // 8 + 1024, dtype=np.float64)
    start = (-backing.ctypes.data + shift) % 4096 // 8
    value = backing[start : start + 2 * MB // 8]
    value[:] = np.arange(len(value))
    assert value.ctypes.data % 4096 == shift
    obj = serialize({"a": value, "tag": "x"})
    block = bytearray(obj.total_size)
    obj.write_into(memoryview(block))
    out = deserialize(bytes(block))
    np.testing.assert_array_equal(out["a"], value)
    offset = next(off for off, piece in obj.placed_pieces()[2:])
    assert offset % 64 == 0
    assert 1024 <= (offset - value.ctypes.data) % 4096 <= 3072


def test_a_new_large_segment_is_mapped_ahead_for_its_reuse(shm) -> None:
    """A helper maps a new large segment in the background, so the first write into it after it
    is recycled already goes through a kept mapping."""
    import time

    writer = object_store.SegmentWriter()
    writer.write(str(shm / "o1"), serialize(np.ones(3 * MB)))  # 24 MB: large enough
    inode = os.stat(shm / "o1").st_ino
    deadline = time.monotonic() + 10
    while inode not in writer._maps and time.monotonic() < deadline:
        time.sleep(0.01)
    assert inode in writer._maps
    _recycle(shm / "o1", 1)
    again = np.arange(3 * MB - 1024, dtype=np.float64)
    writer.write(str(shm / "o2"), serialize(again))
    assert os.stat(shm / "o2").st_ino == inode
    np.testing.assert_array_equal(_read(shm / "o2"), again)
    writer.close()


def test_small_new_segments_are_not_mapped_ahead(shm) -> None:
    writer = object_store.SegmentWriter()
    writer.write(str(shm / "o1"), serialize(np.ones(MB)))  # 8 MB: written, not mapped
    assert writer._copier is None and writer._maps == {}
    writer.close()


def test_a_write_does_not_wait_for_a_helper_busy_mapping_ahead(shm, monkeypatch) -> None:
    writer = object_store.SegmentWriter()
    writer.helper_count = 1  # one helper, as on a two-core machine
    writer.write(str(shm / "old"), serialize(np.ones(3 * MB)))
    deadline = time.monotonic() + 10
    while not writer._maps and time.monotonic() < deadline:  # its mapping is made ahead
        time.sleep(0.01)
    assert writer._maps
    _recycle(shm / "old", 1)

    populate = object_store._populated_mapping
    started = threading.Event()

    def slow_populate(fd, size):
        started.set()
        time.sleep(0.3)  # the helper is mapping a new segment ahead while the next write runs
        return populate(fd, size)

    monkeypatch.setattr(object_store, "_populated_mapping", slow_populate)
    # Too big for the recycled segment: a fresh one, whose mapping the helper now makes ahead.
    writer.write(str(shm / "new"), serialize(np.zeros(5 * MB)))
    assert started.wait(5)
    done = threading.Event()

    def reuse():
        # Into the recycled segment, through the kept mapping: a parallel copy with the helper.
        writer.write(str(shm / "again"), serialize(np.full(3 * MB, 2.0)))
        done.set()

    threading.Thread(target=reuse, daemon=True).start()
    assert done.wait(10), "the write waited for a helper stuck behind its own lock"
    np.testing.assert_array_equal(_read(shm / "again"), np.full(3 * MB, 2.0))
    writer.close()
