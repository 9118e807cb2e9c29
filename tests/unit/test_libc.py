"""The C library calls behind large writes: populating a mapping's page tables (with the GIL
released, so the process's other threads run meanwhile) and the executable page of the
streaming copy."""

import mmap
import os
import struct

import numpy as np
import pytest

from _needs import on_platform_only
from rayground._core import libc

PAGE = mmap.PAGESIZE


def _present_pages(address: int, length: int) -> int:
    """How many pages of the range have a page table entry in this process (/proc pagemap)."""
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(address // PAGE * 8)
        entries = f.read(length // PAGE * 8)
    return sum(1 for (entry,) in struct.iter_unpack("<Q", entries) if entry >> 63)


@pytest.fixture
def segment(tmp_path):
    size = 8 << 20
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else str(tmp_path)
    path = os.path.join(shm, f"rg-test-libc-{os.getpid()}")
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.pwrite(fd, np.ones(size, np.uint8), 0)  # its pages exist, as a recycled segment's do
    yield fd, size
    os.close(fd)
    os.unlink(path)


@on_platform_only(os.path.exists("/proc/self/pagemap"), "needs Linux's pagemap")
def test_populate_sets_up_every_page_table_entry(segment):
    fd, size = segment
    with mmap.mmap(fd, size) as mapping:
        address = libc.address_of(mapping)
        assert _present_pages(address, size) < size // PAGE  # a fresh mapping faults lazily
        assert libc.populate(address, size)  # Linux >= 5.14, as on every machine we target
        assert _present_pages(address, size) == size // PAGE


@on_platform_only(os.path.exists("/proc/self/pagemap"), "needs Linux's pagemap")
def test_populate_widens_a_range_off_a_page_boundary_to_whole_pages(segment):
    fd, size = segment
    with mmap.mmap(fd, size) as mapping:
        address = libc.address_of(mapping)
        # From the middle of page 3 to the middle of page 5: pages 3, 4 and 5.
        assert libc.populate(address + 3 * PAGE + 100, 2 * PAGE)
        assert _present_pages(address + 3 * PAGE, 3 * PAGE) == 3


def test_make_executable_refuses_an_address_off_a_page_boundary():
    with mmap.mmap(-1, PAGE) as page:
        address = libc.address_of(page)
        with pytest.raises(OSError):
            libc.make_executable(address + 1)
