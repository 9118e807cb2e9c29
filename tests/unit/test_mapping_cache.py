"""The per-worker mapping cache: a hit only while the segment file is the same one."""

from __future__ import annotations

import os

from rayground._core.object_store import MappingCache


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def test_same_file_is_mapped_once(tmp_path) -> None:
    cache = MappingCache()
    path = str(tmp_path / "obj")
    _write(path, b"a" * 4096)
    first = cache.map(path)
    assert cache.map(path) is first
    assert bytes(first[:1]) == b"a"


def test_replaced_file_is_mapped_again(tmp_path) -> None:
    cache = MappingCache()
    path = str(tmp_path / "obj")
    _write(path, b"a" * 4096)
    old = cache.map(path)
    os.unlink(path)
    _write(path, b"b" * 4096)  # a new inode under the same name (a retried task's result)
    new = cache.map(path)
    assert new is not old and bytes(new[:1]) == b"b"


def test_purge_forgets_freed_segments(tmp_path) -> None:
    cache = MappingCache()
    paths = [str(tmp_path / f"o{i}") for i in range(3)]
    for p in paths:
        _write(p, b"x" * 4096)
        cache.map(p)
    os.unlink(paths[1])
    cache.purge()
    assert len(cache) == 2


def test_bounded_and_disabled(tmp_path) -> None:
    cache = MappingCache(max_entries=2)
    for i in range(5):
        p = str(tmp_path / f"o{i}")
        _write(p, b"x" * 4096)
        cache.map(p)
    assert len(cache) == 2
    off = MappingCache(max_entries=0)
    p = str(tmp_path / "o0")
    assert off.map(p) is not off.map(p) and len(off) == 0
