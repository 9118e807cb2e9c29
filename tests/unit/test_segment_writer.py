"""Writing segments: fresh ones, recycled ones through a kept mapping, and the block layout."""

from __future__ import annotations

import mmap
import os

import numpy as np
import pytest

from _needs import on_platform_only
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


def test_a_new_large_segment_leaves_nothing_running_after_its_write(shm) -> None:
    """A fresh segment is written with pwritev and nothing else: no mapping is made in the
    background after the write returns (one held this process's memory map while the driver's
    next `get` wanted to map the object, making that `get` take milliseconds)."""
    writer = object_store.SegmentWriter()
    writer.write(str(shm / "o1"), serialize(np.ones(3 * MB)))  # 24 MB: a large one
    assert writer._copier is None and writer._maps == {}
    writer.close()


@on_platform_only(os.path.exists("/proc/self/pagemap"), "needs Linux's pagemap")
def test_the_first_write_into_a_recycled_segment_sets_up_every_page(shm) -> None:
    """The copying threads populate the page tables of a recycled segment piece by piece, so
    the kept mapping is complete for the next write, and every byte lands (pieces start off
    page boundaries: the block's header and padding come first)."""
    from test_libc import _present_pages  # the pagemap reader

    from rayground._core import libc

    writer = object_store.SegmentWriter()
    writer.write(str(shm / "o1"), serialize({"a": np.ones(3 * MB), "b": b"x" * 5000}))
    _recycle(shm / "o1", 1)
    value = {"a": np.arange(3 * MB - 512, dtype=np.float64), "b": b"y" * 4999}
    size = writer.write(str(shm / "o2"), serialize(value))
    ((_, mapping),) = writer._maps.values()
    if libc.can_populate():
        pages = -(-size // mmap.PAGESIZE)
        assert _present_pages(libc.address_of(mapping), pages * mmap.PAGESIZE) == pages
    out = _read(shm / "o2")
    np.testing.assert_array_equal(out["a"], value["a"])
    assert out["b"] == value["b"]
    writer.close()


def test_a_recycled_segment_is_rewritten_where_the_kernel_cannot_populate(shm, monkeypatch):
    """Before Linux 5.14 (no MADV_POPULATE_READ) the mapping is made with MAP_POPULATE instead;
    the bytes land the same."""
    from rayground._core import libc

    monkeypatch.setattr(libc, "can_populate", lambda: False)
    writer = object_store.SegmentWriter()
    writer.write(str(shm / "o1"), serialize(np.ones(3 * MB)))
    _recycle(shm / "o1", 1)
    value = np.arange(3 * MB - 700, dtype=np.float64)
    writer.write(str(shm / "o2"), serialize(value))
    np.testing.assert_array_equal(_read(shm / "o2"), value)
    writer.close()
