"""Values to bytes and back: cloudpickle for code, pickle 5 with out-of-band buffers for data.

A serialised value is laid out as one *packed* block, the same whether it travels inline in a
message or lives in a shared-memory segment:

    u32 nbuf | u32 reserved | u64 meta_len | nbuf x (u64 offset, u64 length) | meta | buffers...

`meta` is the pickle stream; each out-of-band buffer (a NumPy array's data, a bytes-like object)
starts at a 64-byte aligned offset so that `get` can hand out read-only NumPy views straight onto
the block without copying.

ObjectRefs met while pickling are recorded (`SerializedObject.contained`) so the head can keep the
objects they point to alive as long as the value that contains them.

Non-goals: no custom per-type serialisers, no compression.
"""

from __future__ import annotations

import pickle
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

_HEAD = struct.Struct("<IIQ")
_BUF = struct.Struct("<QQ")
_ALIGN = 64

_recording = threading.local()


def record_contained_ref(object_id: str) -> None:
    """Called by ObjectRef.__reduce__: note that the value being pickled holds this ref."""
    refs = getattr(_recording, "refs", None)
    if refs is not None:
        refs.append(object_id)


@dataclass
class SerializedObject:
    meta: bytes
    buffers: list[memoryview]
    contained: list[str] = field(default_factory=list)

    @property
    def total_size(self) -> int:
        return _layout(len(self.meta), [b.nbytes for b in self.buffers])[0]

    def write_into(self, target: memoryview) -> None:
        """Write the packed block into `target` (at least `total_size` bytes)."""
        _, meta_off, offsets = _layout(len(self.meta), [b.nbytes for b in self.buffers])
        _HEAD.pack_into(target, 0, len(self.buffers), 0, len(self.meta))
        pos = _HEAD.size
        for off, buf in zip(offsets, self.buffers, strict=True):
            _BUF.pack_into(target, pos, off, buf.nbytes)
            pos += _BUF.size
        target[meta_off : meta_off + len(self.meta)] = self.meta
        for off, buf in zip(offsets, self.buffers, strict=True):
            target[off : off + buf.nbytes] = buf

    def iovecs(self) -> list[bytes | memoryview]:
        """The packed block as a list of pieces for one os.pwritev (no copy of the buffers)."""
        _, meta_off, offsets = _layout(len(self.meta), [b.nbytes for b in self.buffers])
        header = bytearray(meta_off)
        _HEAD.pack_into(header, 0, len(self.buffers), 0, len(self.meta))
        pos = _HEAD.size
        for off, buf in zip(offsets, self.buffers, strict=True):
            _BUF.pack_into(header, pos, off, buf.nbytes)
            pos += _BUF.size
        pieces: list[bytes | memoryview] = [bytes(header), self.meta]
        end = meta_off + len(self.meta)
        for off, buf in zip(offsets, self.buffers, strict=True):
            if off > end:
                pieces.append(bytes(off - end))
            pieces.append(buf.cast("B") if buf.format != "B" or buf.ndim != 1 else buf)
            end = off + buf.nbytes
        return pieces

    def to_bytes(self) -> bytes:
        if not self.buffers:  # the common small case: header and pickle, nothing to align
            return _HEAD.pack(0, 0, len(self.meta)) + self.meta
        out = bytearray(self.total_size)
        self.write_into(memoryview(out))
        return bytes(out)


def _layout(meta_len: int, buf_lens: list[int]) -> tuple[int, int, list[int]]:
    pos = _HEAD.size + _BUF.size * len(buf_lens)
    meta_off = pos
    pos += meta_len
    offsets = []
    for n in buf_lens:
        pos = (pos + _ALIGN - 1) // _ALIGN * _ALIGN
        offsets.append(pos)
        pos += n
    return pos, meta_off, offsets


_PLAIN_TYPES = frozenset({int, float, str, bytes, bool, type(None)})


def _is_plain(value: Any, depth: int = 0) -> bool:
    """Builtin scalars and small containers of them: the plain pickler handles these exactly as
    cloudpickle would, five times faster (no per-object reducer hook)."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return kind is not bytes or len(value) < 2048  # big bytes go out-of-band
    if depth >= 3 or kind not in (list, tuple, dict) or len(value) > 32:
        return False
    if kind is dict:
        return all(type(k) in _PLAIN_TYPES and _is_plain(v, depth + 1) for k, v in value.items())
    return all(_is_plain(v, depth + 1) for v in value)


def serialize(value: Any) -> SerializedObject:
    """Pickle `value`; raises the pickler's own error (callers add context to it)."""
    if _is_plain(value):
        return SerializedObject(pickle.dumps(value, protocol=5), [])
    buffers: list[memoryview] = []

    def keep(buf: pickle.PickleBuffer) -> bool:
        view = buf.raw()
        if view.nbytes < 2048:  # tiny buffers are cheaper in-band than as separate blocks
            return True
        buffers.append(view)
        return False

    previous = getattr(_recording, "refs", None)
    _recording.refs = []
    try:
        meta = cloudpickle.dumps(value, protocol=5, buffer_callback=keep)
        contained = _recording.refs
    finally:
        _recording.refs = previous
    return SerializedObject(meta, buffers, contained)


def deserialize(block: memoryview | bytes) -> Any:
    """Unpickle a packed block; NumPy arrays come back as read-only views onto `block`."""
    view = block if isinstance(block, memoryview) else memoryview(block)
    nbuf, _, meta_len = _HEAD.unpack_from(view, 0)
    pos = _HEAD.size
    buffers = []
    for _ in range(nbuf):
        off, length = _BUF.unpack_from(view, pos)
        pos += _BUF.size
        buffers.append(view[off : off + length])
    meta_off = _HEAD.size + _BUF.size * nbuf
    return pickle.loads(view[meta_off : meta_off + meta_len], buffers=buffers)


def dumps_code(obj: Any) -> bytes:
    """Functions and classes, by value where needed (notebook and __main__ definitions)."""
    return cloudpickle.dumps(obj, protocol=5)


def export_code(obj: Any, what: str, advice: str) -> tuple[str, bytes]:
    """Pickle a function or class once: (content id, blob). Errors name `what` and give advice."""
    import hashlib

    try:
        blob = dumps_code(obj)
    except Exception as exc:
        raise TypeError(f"Could not serialize {what}: {exc}. {advice}") from exc
    return "f" + hashlib.sha1(blob).hexdigest()[:20], blob


def loads_code(data: bytes) -> Any:
    return pickle.loads(data)


def find_unpicklable(value: Any, path: str = "", depth: int = 0) -> tuple[str, Any] | None:
    """Find the innermost part of `value` that cannot be pickled: (path within value, object)."""
    try:
        cloudpickle.dumps(value, protocol=5, buffer_callback=lambda _b: False)
        return None
    except Exception:
        pass
    if depth < 6:
        children: Iterable[tuple[str, Any]] = ()
        if isinstance(value, dict):
            children = ((f"{path}[{k!r}]", v) for k, v in value.items())
        elif isinstance(value, list | tuple | set | frozenset):
            children = ((f"{path}[{i}]", v) for i, v in enumerate(value))
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            children = ((f"{path}.{k}", v) for k, v in vars(value).items())
        for child_path, child in children:
            found = find_unpicklable(child, child_path, depth + 1)
            if found is not None:
                return found
    return path, value
