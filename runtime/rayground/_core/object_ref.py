"""ObjectRef: a future for a value in the object store.

Each process counts its live ObjectRef instances per object id (client.py); when the count for an
id goes to zero the head is told, and when every process, pending task and containing object has
let go, the head frees the object. Unpickling a ref in another process (a ref nested in an
argument or a stored value) registers that process as a borrower before the containing value can
be dropped, because both messages travel in order on the same connection.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from . import context
from .ids import TaskID, from_binary, to_binary, to_hex
from .serialization import record_contained_ref

if TYPE_CHECKING:
    import asyncio


class ObjectRef:
    __slots__ = ("__weakref__", "_client", "_id")

    def __init__(
        self, object_id: str | bytes, *, _borrowed: bool = False, _client: Any = None
    ) -> None:
        if type(object_id) is not str:  # Ray's form: ObjectRef(ref.binary())
            object_id, _borrowed = _from_binary(object_id), True
        self._id = object_id
        client = _client if _client is not None else context.current_client(required=False)
        self._client = client
        if client is not None:
            client.add_local_ref(object_id, borrowed=_borrowed)

    def hex(self) -> str:
        """The id as hex, as Ray shows it (the runtime's own id is `_id`, shorter on the wire)."""
        return to_hex(self._id)

    def binary(self) -> bytes:
        return to_binary(self._id)

    @classmethod
    def from_binary(cls, data: bytes) -> ObjectRef:
        """The ref whose `binary()` is `data` (the object must still be alive in the cluster)."""
        return cls(data)

    @classmethod
    def from_hex(cls, text: str) -> ObjectRef:
        # Ray's ObjectRef.from_hex raises NotImplementedError too; say what works instead.
        raise NotImplementedError(
            "ObjectRef.from_hex is not supported (as in Ray); use "
            "ObjectRef.from_binary(bytes.fromhex(text))."
        )

    def task_id(self) -> TaskID:
        """The task that makes this object (for a `put`, the object's own id), as in Ray."""
        return TaskID(self._id.rsplit(".", 1)[0])

    def __hash__(self) -> int:
        return hash(self._id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectRef) and other._id == self._id

    def __repr__(self) -> str:
        return f"ObjectRef({to_hex(self._id)})"

    def __reduce__(self) -> tuple[Any, ...]:
        record_contained_ref(self._id)
        return (_rebuild, (self._id,))

    def __del__(self) -> None:
        client = self._client
        if client is not None:
            try:
                client.release_local_ref(self._id)
            except Exception:  # interpreter shutdown: the head frees everything anyway
                pass

    def future(self) -> concurrent.futures.Future:
        """A concurrent.futures.Future that completes with the value (or the task's error)."""
        return _client_of(self).future_for(self)

    def as_future(self) -> asyncio.Future:
        """An asyncio Future on the running event loop that completes with the value."""
        import asyncio  # imported here: it costs ~20 ms at start-up, and most code never awaits

        return asyncio.wrap_future(self.future())

    def __await__(self) -> Generator[Any, None, Any]:
        return self.as_future().__await__()


def _client_of(ref: ObjectRef) -> Any:
    client = ref._client or context.current_client(required=True)
    return client


def _from_binary(data: Any) -> str:
    if not isinstance(data, bytes | bytearray):
        raise TypeError(
            f"ObjectRef() takes an object's id as bytes (ref.binary()), got {type(data).__name__}"
        )
    try:
        return from_binary(bytes(data))
    except UnicodeDecodeError:
        raise ValueError(
            f"{bytes(data)!r} is not a rayground object id: pass what ref.binary() gave you"
        ) from None


def _rebuild(object_id: str) -> ObjectRef:
    return ObjectRef(object_id, _borrowed=True)
