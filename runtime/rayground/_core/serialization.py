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

import io
import linecache
import os
import pickle
import struct
import sys
import threading
import types
from collections import ChainMap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

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

    _placement: tuple[int, int, list[int]] | None = field(default=None, init=False, repr=False)

    @property
    def total_size(self) -> int:
        return self._layout()[0]

    def _layout(self) -> tuple[int, int, list[int]]:
        if self._placement is None:
            self._placement = _layout(len(self.meta), self.buffers)
        return self._placement

    def placed_pieces(self) -> list[tuple[int, memoryview]]:
        """The packed block as (offset, bytes) pieces; the gaps between them are padding."""
        _, meta_off, offsets = self._layout()
        header = bytearray(meta_off)
        _HEAD.pack_into(header, 0, len(self.buffers), 0, len(self.meta))
        pos = _HEAD.size
        for off, buf in zip(offsets, self.buffers, strict=True):
            _BUF.pack_into(header, pos, off, buf.nbytes)
            pos += _BUF.size
        pieces = [(0, memoryview(header)), (meta_off, memoryview(self.meta))]
        for off, buf in zip(offsets, self.buffers, strict=True):
            pieces.append((off, buf.cast("B") if buf.format != "B" or buf.ndim != 1 else buf))
        return pieces

    def write_into(self, target: memoryview) -> None:
        """Write the packed block into `target` (at least `total_size` bytes, zero-filled)."""
        for off, piece in self.placed_pieces():
            target[off : off + piece.nbytes] = piece

    def iovecs(self) -> list[bytes | memoryview]:
        """The packed block as a list of pieces for one os.pwritev (no copy of the buffers)."""
        out: list[bytes | memoryview] = []
        end = 0
        for off, piece in self.placed_pieces():
            if off > end:
                out.append(bytes(off - end))
            out.append(piece)
            end = off + piece.nbytes
        return out

    def to_bytes(self) -> bytes:
        if not self.buffers:  # the common small case: header and pickle, nothing to align
            return _HEAD.pack(0, 0, len(self.meta)) + self.meta
        out = bytearray(self.total_size)
        self.write_into(memoryview(out))
        return bytes(out)


def _layout(meta_len: int, buffers: list[memoryview]) -> tuple[int, int, list[int]]:
    """(total size, meta offset, buffer offsets) of the packed block."""
    pos = _HEAD.size + _BUF.size * len(buffers)
    meta_off = pos
    pos += meta_len
    offsets = []
    for buf in buffers:
        pos = (pos + _ALIGN - 1) // _ALIGN * _ALIGN
        if buf.nbytes >= _PAGE_PLACED:
            pos += _page_phase_gap(pos, buf)
        offsets.append(pos)
        pos += buf.nbytes
    return pos, meta_off, offsets


_PAGE_PLACED = 1 << 20
_PAGE = 4096


def _page_phase_gap(pos: int, buf: memoryview) -> int:
    """Padding that puts a large buffer half a page away from its source's page offset.

    Segments are page-aligned, so a buffer at `pos` lands at page offset pos % 4096. When that is
    just past the source's own page offset, the CPU mistakes the copy's loads for reloads of the
    bytes it has just stored (4K aliasing) and a large copy runs at under half speed (measured:
    6 against 16 GB/s for 1 GB). Half a page apart is always clear of it.
    """
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return 0  # only NumPy can tell a read-only buffer's address; without it, no padding
    source = numpy.frombuffer(buf, dtype=numpy.uint8).ctypes.data
    return (source + _PAGE // 2 - pos) % _PAGE // _ALIGN * _ALIGN


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


def _code_reduce(code: types.CodeType) -> tuple[Any, tuple]:
    """cloudpickle's code reducer, keeping the real file name: cloudpickle 3 writes
    "<dynamic-code>" there, and a remote traceback then cannot say where the failing line is.
    Ray keeps it. A file that is not on disk (a notebook cell, which IPython names
    `/tmp/ipykernel_<pid>/<n>.py` or `<ipython-input-...>`) travels with its source lines, so the
    traceback shows the line too."""
    rebuild, args = cloudpickle.cloudpickle._code_reduce(code)
    filename = code.co_filename
    args = tuple(filename if a == "<dynamic-code>" and type(a) is str else a for a in args)
    entry: tuple = linecache.cache.get(filename) or ()
    # (size, mtime, lines, name) with mtime None: lines registered by IPython (or by
    # _rebuild_code), with no file behind them. (A 1-tuple is a lazy loader: a module's file.)
    if len(entry) == 4 and entry[1] is None and not os.path.exists(filename):
        return _rebuild_code, (args, filename, entry[2])
    return rebuild, args


def _rebuild_code(args: tuple, filename: str, lines: list[str]) -> types.CodeType:
    linecache.cache.setdefault(filename, (sum(map(len, lines)), None, lines, filename))
    return types.CodeType(*args)


# Reducers registered by `util.register_serializer` (exact class -> reducer), consulted first.
custom_reducers: dict[type, Callable[[Any], Any]] = {}


def _rebuild_custom(deserializer: Callable[[Any], Any], data: Any) -> Any:
    return deserializer(data)


def register_serializer(
    cls: type, serializer: Callable[[Any], Any], deserializer: Callable[[Any], Any]
) -> None:
    """Pickle instances of exactly `cls` as `serializer(obj)`, rebuilt by `deserializer` (which
    travels with the data, so the receiving process needs no registration of its own)."""

    def reduce(obj: Any) -> tuple[Any, tuple[Any, Any]]:
        return _rebuild_custom, (deserializer, serializer(obj))

    custom_reducers[cls] = reduce


class _Pickler(cloudpickle.Pickler):
    dispatch_table: ClassVar[ChainMap] = ChainMap(
        custom_reducers, {types.CodeType: _code_reduce}, cloudpickle.Pickler.dispatch_table
    )


def _ndarray_reduce(array: Any) -> Any:
    """A NumPy array pickled read-only. Its data then travels in-band (when small) as immutable
    bytes, so `get` gives a read-only array whatever its size, as Ray does; large ones already
    come back as read-only views onto the object's memory. The caller's array is untouched."""
    if array.flags.writeable and (array.flags.c_contiguous or array.flags.f_contiguous):
        # (Object arrays and non-contiguous ones are pickled by copy and come back writable,
        # in Ray too: NumPy's protocol-5 reduction covers only contiguous plain data.)
        array = array.view()
        array.flags.writeable = False
    return array.__reduce_ex__(5)


_IN_BAND = 2048  # buffers smaller than this travel in the pickle stream, not as separate blocks
_numpy_pickler: type | None = None


def _pickler_class() -> type:
    """_Pickler, or once NumPy is loaded, a subclass that pickles arrays read-only (NumPy is
    not imported here: it costs a process tens of ms at start-up)."""
    global _numpy_pickler
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return _Pickler
    if _numpy_pickler is None:
        table = ChainMap({numpy.ndarray: _ndarray_reduce}, _Pickler.dispatch_table)
        _numpy_pickler = type("_NumpyPickler", (_Pickler,), {"dispatch_table": table})
    return _numpy_pickler


def _dumps(value: Any, buffer_callback: Any = None) -> bytes:
    with io.BytesIO() as out:
        _pickler_class()(out, protocol=5, buffer_callback=buffer_callback).dump(value)
        return out.getvalue()


def serialize(value: Any) -> SerializedObject:
    """Pickle `value`; raises the pickler's own error (callers add context to it)."""
    if _is_plain(value):
        return SerializedObject(pickle.dumps(value, protocol=5), [])
    buffers: list[memoryview] = []

    def keep(buf: pickle.PickleBuffer) -> bool:
        view = buf.raw()
        if view.nbytes < _IN_BAND:  # tiny buffers are cheaper in-band than as separate blocks
            return True
        buffers.append(view)
        return False

    previous = getattr(_recording, "refs", None)
    _recording.refs = []
    try:
        meta = _dumps(value, buffer_callback=keep)
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
    return _dumps(obj)


def export_code(obj: Any, what: str, advice: str) -> tuple[str, bytes]:
    """Pickle a function or class once: (content id, blob). Errors name `what` and give advice."""
    import hashlib

    try:
        blob = dumps_code(obj)
    except Exception as exc:
        found = find_unpicklable(obj)
        culprit = ""
        if found is not None and found[0]:  # name what inside it fails, not just the function
            path, part = found
            culprit = f" (through `{path.lstrip('.')}`, a {type(part).__qualname__})"
        raise TypeError(f"Could not serialize {what}: {exc}{culprit}. {advice}") from exc
    return "f" + hashlib.sha1(blob).hexdigest()[:20], blob


def loads_code(data: bytes) -> Any:
    return pickle.loads(data)


def pickle_error(value: Any) -> str | None:
    """Why `value` cannot be pickled (the error's text), or None if it can."""
    try:
        cloudpickle.dumps(value, protocol=5, buffer_callback=lambda _b: False)
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return None


def pickle_parts(value: Any) -> list[tuple[str, Any]]:
    """What pickling `value` also pickles, as (path step, part): a container's items
    (`[key]`), an object's or a class's attributes (`.name`), and a function's captured
    variables and the module globals it uses (`.name`): where a pickling error comes from."""
    import inspect

    if isinstance(value, dict):
        return [(f"[{k!r}]", v) for k, v in value.items()]
    if isinstance(value, list | tuple | set | frozenset):
        return [(f"[{i}]", v) for i, v in enumerate(value)]
    if inspect.isfunction(value):
        try:
            used = inspect.getclosurevars(value)
        except (TypeError, ValueError):
            return []
        return [(f".{k}", v) for k, v in (*used.nonlocals.items(), *used.globals.items())]
    if inspect.ismethod(value):
        return [(".__self__", value.__self__), (".__func__", value.__func__)]
    if isinstance(value, type):
        return [
            (f".{k}", v)
            for k, v in vars(value).items()
            if not (k.startswith("__") and k.endswith("__"))
        ]
    if hasattr(value, "__dict__"):
        return [(f".{k}", v) for k, v in vars(value).items()]
    return []


def find_unpicklable(value: Any, path: str = "", depth: int = 0) -> tuple[str, Any] | None:
    """Find the innermost part of `value` that cannot be pickled: (path within value, object)."""
    if pickle_error(value) is None:
        return None
    if depth < 6:
        for step, child in pickle_parts(value):
            found = find_unpicklable(child, path + step, depth + 1)
            if found is not None:
                return found
    return path, value
