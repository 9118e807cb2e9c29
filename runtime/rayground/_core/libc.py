"""The few C library calls Python's standard modules do not offer, made through ctypes.

ctypes releases the GIL for the length of each call, which is the point for `populate`: Python's
own `mmap.mmap(..., MAP_POPULATE)` holds the GIL while the kernel sets up the page tables
(measured: 0.1-0.7 s per GB here), freezing every other thread of the process for that long.
Everything here is loaded on first use and reports "unavailable" rather than raising where the
platform lacks it.
"""

from __future__ import annotations

import mmap
import sys
import threading
from typing import Any

_MADV_POPULATE_READ = 22  # Linux >= 5.14: fault the range in, page tables included
_POPULATE_CHUNK = 64 << 20  # per call: the process's memory map lock is free between chunks

_lock = threading.Lock()
_libc: Any = None
_loaded = False


def libc() -> Any:
    """The C library as a ctypes CDLL (errno kept), or None where ctypes cannot load it."""
    global _libc, _loaded
    if not _loaded:
        with _lock:
            if not _loaded:
                try:
                    import ctypes

                    lib = ctypes.CDLL(None, use_errno=True)
                    lib.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                    lib.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                    _libc = lib
                except (ImportError, OSError, AttributeError):
                    _libc = None
                _loaded = True
    return _libc


def address_of(mapping: mmap.mmap) -> int:
    """Where a writable mapping starts in memory. The buffer export this takes is released
    before returning, so the mapping can still be closed."""
    import ctypes

    start = ctypes.c_char.from_buffer(mapping)
    try:
        return ctypes.addressof(start)
    finally:
        del start


_can_populate: bool | None = None


def can_populate() -> bool:
    """Whether `populate` works here (Linux >= 5.14 with ctypes), tried once on a page."""
    global _can_populate
    if _can_populate is None:
        works = False
        if libc() is not None and sys.platform.startswith("linux"):
            page = mmap.mmap(-1, mmap.PAGESIZE)
            try:
                works = _populate(address_of(page), mmap.PAGESIZE)
            finally:
                page.close()
        _can_populate = works
    return _can_populate


def populate(address: int, length: int) -> bool:
    """Set up the page tables of the `length` bytes mapped at `address` (widened to whole
    pages), without holding the GIL and in chunks, so neither this process's other threads nor
    its memory allocations wait for the whole range. False where the kernel cannot (before
    Linux 5.14: see `can_populate`)."""
    if not can_populate():
        return False
    start = address - address % mmap.PAGESIZE
    return _populate(start, length + address - start)


def _populate(address: int, length: int) -> bool:
    lib = libc()
    for offset in range(0, length, _POPULATE_CHUNK):
        chunk = min(_POPULATE_CHUNK, length - offset)
        if lib.madvise(address + offset, chunk, _MADV_POPULATE_READ) != 0:
            return False
    return True


def make_executable(address: int) -> None:
    """Turn the page at `address` from read-write to read-execute (never both writable and
    executable); raises OSError if the platform's policy refuses."""
    import ctypes

    lib = libc()
    if lib is None:
        raise OSError("the C library cannot be loaded through ctypes")
    if lib.mprotect(address, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
        raise OSError(ctypes.get_errno(), "mprotect to read-execute refused")
