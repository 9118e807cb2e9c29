"""The C library calls behind large writes: populating a mapping's page tables (with the GIL
released, so a background mapping never freezes the process) and the executable page of the
streaming copy."""

import mmap
import os
import struct

import numpy as np
import pytest

from _needs import on_platform_only
from rayground._core import libc, object_store

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
def test_the_writers_mappings_come_populated(segment):
    fd, size = segment
    mapping = object_store._populated_mapping(fd, size)
    try:
        assert _present_pages(libc.address_of(mapping), size) == size // PAGE
        mapping[:4] = b"abcd"  # writable
    finally:
        mapping.close()  # closable: no view of it was left behind


def test_make_executable_refuses_an_address_off_a_page_boundary():
    with mmap.mmap(-1, PAGE) as page:
        address = libc.address_of(page)
        with pytest.raises(OSError):
            libc.make_executable(address + 1)
