"""The streaming-store copy used for large `put`s: byte-exact at every alignment and length,
actually in use where it should be, and switched off cleanly."""

import mmap
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from _needs import on_platform_only
from rayground._core import stream_copy

X86_64_LINUX = sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")


@on_platform_only(X86_64_LINUX, "the streaming loop is x86-64 machine code")
def test_streaming_is_used_on_x86_64_linux():
    # A silent fallback would keep every test green and lose the speed: say so here.
    assert stream_copy.available()


@pytest.mark.parametrize("length", [0, 1, 63, 64, 255, 256, 257, 4096 + 17, 1 << 20, (3 << 20) + 5])
@pytest.mark.parametrize("src_shift", [0, 1, 8, 15])
@pytest.mark.parametrize("dst_shift", [0, 3, 16, 63])
def test_copy_is_byte_exact(length, src_shift, dst_shift):
    rng = np.random.default_rng(length + 7 * src_shift + 31 * dst_shift)
    src_backing = rng.integers(0, 256, length + 64, dtype=np.uint8)
    dst_backing = np.full(length + 128, 0xAB, dtype=np.uint8)
    src = src_backing[src_shift : src_shift + length]
    dst = dst_backing[dst_shift : dst_shift + length]
    stream_copy.copy(dst, src)
    assert np.array_equal(dst, src)
    # Nothing outside the destination was written.
    assert (dst_backing[:dst_shift] == 0xAB).all()
    assert (dst_backing[dst_shift + length :] == 0xAB).all()


def test_copy_into_shared_memory_mapping(tmp_path):
    # The real target: a shared file mapping, as the object store's segments are.
    size = (5 << 20) + 100
    path = "/dev/shm" if os.path.isdir("/dev/shm") else str(tmp_path)
    fd, name = None, os.path.join(path, f"rg-test-stream-{os.getpid()}")
    try:
        fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.ftruncate(fd, size)
        with mmap.mmap(fd, size) as mapping:
            dst = np.frombuffer(mapping, dtype=np.uint8)
            src = np.arange(size // 8 + 1, dtype=np.float64).view(np.uint8)[:size]
            stream_copy.copy(dst[100:], src[100:])
            assert np.array_equal(dst[100:], src[100:])
            assert not dst[:100].any()
            del dst
    finally:
        if fd is not None:
            os.close(fd)
        os.unlink(name)


def test_lengths_must_match():
    with pytest.raises(ValueError, match="copy of 10 bytes into a buffer of 9"):
        stream_copy.copy(np.zeros(9, np.uint8), np.zeros(10, np.uint8))


def test_switched_off_by_environment():
    code = (
        "import numpy as np\n"
        "from rayground._core import stream_copy\n"
        "a = np.arange(1 << 16, dtype=np.uint8); b = np.empty_like(a)\n"
        "stream_copy.copy(b, a)\n"
        "print(stream_copy.available(), bool((a == b).all()))\n"
    )
    env = {**os.environ, "RAYGROUND_STREAM_COPY": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
