"""Copying large buffers into the object store with streaming (non-temporal) stores.

A plain copy reads every destination cache line before overwriting it (read-for-ownership) and
leaves the cache full of data this process will not read again. Streaming stores skip both: a
`put` of 100 MB through them ran at 14-16 GB/s on two threads here, against 11 GB/s for
`np.copyto`. glibc's `memcpy` switches to streaming stores by itself only above a threshold
derived from the cache size the CPU reports (192 MiB on the VMs we measured), so every
`put` between 16 MB and a few hundred MB paid the slow path.

Python cannot emit those instructions and a C extension would need a compiler at install, so
the loop below is 61 bytes of x86-64 machine code, placed in an executable mapping (written
while read-write, then switched to read-execute: never writable and executable at once) and
called through ctypes, which releases the GIL so several threads can copy at once. Anywhere
this cannot work (another CPU or OS, a policy that forbids executable mappings, a failed
self-check) `copy` falls back to `np.copyto`; `RAYGROUND_STREAM_COPY=0` forces the fallback.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
from typing import Any

import numpy as np

# void stream_copy(void *dst, const void *src, size_t n)   System V x86-64: rdi, rsi, rdx
# dst must be 16-byte aligned and n a multiple of 64; uses only caller-saved registers.
#   test    rdx, rdx            48 85 d2
#   je      done                74 34
# loop:
#   movdqu  xmm0, [rsi]         f3 0f 6f 06
#   movdqu  xmm1, [rsi+0x10]    f3 0f 6f 4e 10
#   movdqu  xmm2, [rsi+0x20]    f3 0f 6f 56 20
#   movdqu  xmm3, [rsi+0x30]    f3 0f 6f 5e 30
#   movntdq [rdi], xmm0         66 0f e7 07
#   movntdq [rdi+0x10], xmm1    66 0f e7 4f 10
#   movntdq [rdi+0x20], xmm2    66 0f e7 57 20
#   movntdq [rdi+0x30], xmm3    66 0f e7 5f 30
#   add     rsi, 0x40           48 83 c6 40
#   add     rdi, 0x40           48 83 c7 40
#   sub     rdx, 0x40           48 83 ea 40
#   jne     loop                75 cc
# done:
#   sfence                      0f ae f8    (streamed stores are visible before we return)
#   ret                         c3
_X86_64_STREAM_COPY = bytes.fromhex(
    "4885d27434"
    "f30f6f06f30f6f4e10f30f6f5620f30f6f5e30"
    "660fe707660fe74f10660fe75720660fe75f30"
    "4883c6404883c7404883ea4075cc"
    "0faef8c3"
)

_BLOCK = 64  # bytes per loop turn
_ALIGN = 16  # movntdq's destination alignment

_lock = threading.Lock()
_loaded = False
_stream: Any = None  # the ctypes function, or None where streaming is unavailable
_keep: list = []  # the executable mapping and the objects that must outlive calls into it


def available() -> bool:
    """Whether `copy` uses streaming stores in this process."""
    _load()
    return _stream is not None


def copy(dst: np.ndarray, src: np.ndarray) -> None:
    """Copy the bytes of `src` into `dst` (1-d uint8 arrays of one length, not overlapping)."""
    n = len(src)
    if len(dst) != n:
        raise ValueError(f"copy of {n} bytes into a buffer of {len(dst)}")
    _load()
    if _stream is None or n < 4 * _BLOCK:
        np.copyto(dst, src)
        return
    head = -dst.ctypes.data % _ALIGN
    body = (n - head) // _BLOCK * _BLOCK
    if head:
        np.copyto(dst[:head], src[:head])
    _stream(dst.ctypes.data + head, src.ctypes.data + head, body)
    if head + body < n:
        np.copyto(dst[head + body :], src[head + body :])


def _load() -> None:
    global _loaded, _stream
    if _loaded:
        return
    with _lock:
        if not _loaded:
            _stream = _build()
            _loaded = True


def _build() -> Any:
    if (
        os.environ.get("RAYGROUND_STREAM_COPY", "1") == "0"
        or sys.platform != "linux"
        or platform.machine() not in ("x86_64", "AMD64")
        or sys.maxsize < 2**32
    ):
        return None
    try:
        function = _map_code(_X86_64_STREAM_COPY)
    except (OSError, AttributeError, ValueError):
        return None  # no executable mappings allowed here: the plain copy it is
    if not _self_check(function):
        return None
    return function


def _map_code(code: bytes) -> Any:
    import ctypes
    import mmap

    from .libc import address_of, make_executable

    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    page.write(code)
    address = address_of(page)
    make_executable(address)
    signature = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
    _keep.append(page)  # never unmapped: the function lives as long as the process
    return signature(address)


def _self_check(function: Any) -> bool:
    """Run the loop once on a known pattern before trusting it with user data."""
    src = np.arange(1024, dtype=np.uint16).view(np.uint8)[3 : 3 + 17 * _BLOCK]  # misaligned
    dst = np.zeros(20 * _BLOCK, dtype=np.uint8)
    start = -dst.ctypes.data % _ALIGN
    function(dst.ctypes.data + start, src.ctypes.data, 16 * _BLOCK)
    copied = dst[start : start + 16 * _BLOCK]
    untouched = np.concatenate([dst[:start], dst[start + 16 * _BLOCK :]])
    return bool(np.array_equal(copied, src[: 16 * _BLOCK]) and not untouched.any())
