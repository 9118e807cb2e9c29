"""ObjectRefGenerator: what a generator task returns; iterating gives one ObjectRef per `yield`.

The worker reports each yielded value as it is produced (GEN_ITEM), so the caller can use the
first items while the task still runs. The task's own return object holds the item count (or the
task's error), which tells the iterator when the stream has ended.
"""

from __future__ import annotations

from typing import Any

from . import protocol
from .ids import to_hex
from .object_ref import ObjectRef


class ObjectRefGenerator:
    def __init__(self, end_ref: ObjectRef, client: Any) -> None:
        self._end = end_ref
        self._client = client
        self._task_id = end_ref._id.rsplit(".", 1)[0]  # items are <task>.g<index>
        self._next = 0
        self._error_given = False
        self._pending: ObjectRef | None = None  # the next item's ref, once wait() made it

    def __iter__(self) -> ObjectRefGenerator:
        return self

    def __next__(self) -> ObjectRef:
        client = self._client
        item = self._next_ref()
        item_id = item._id
        self._pending = None
        end_id = self._end._id
        blocking = client.role == "worker"
        client.wait_descs([item_id, end_id], 1, None, blocking)
        if end_id in client._descs:
            # The stream ended: its count, not the arrival of an item's message, decides
            # (asking for a missing item after the end can only bring back a "lost" error).
            try:
                count = client.value_of(end_id)
            except Exception:
                if item_id not in client._descs and not self._error_given:
                    # The end came first (it may have arrived with an earlier item): ask for
                    # this item; the head knows whether it was produced before the failure,
                    # and answers with it or with an error saying it does not exist.
                    client.send((protocol.WANT, [item_id], False))
                    client.wait_descs([item_id], 1, None, blocking)
                if item_id in client._descs and client._descs[item_id][0] != "e":
                    self._next += 1
                    return item  # produced before the failure
                if self._error_given:
                    raise StopIteration from None
                self._error_given = True
                return self._end  # get() on it raises the task's error, as in Ray
            if self._next >= count:
                raise StopIteration
            if item_id not in client._descs:
                client.send((protocol.WANT, [item_id], False))  # arrived before we held a ref
                client.wait_descs([item_id], 1, None, blocking)
        self._next += 1
        return item

    def _next_ref(self) -> ObjectRef:
        """The next item's ref, made once for wait() and __next__ both: the client keeps an
        arriving item only while a ref to it is held."""
        item_id = f"{self._task_id}.g{self._next}"
        if self._pending is None or self._pending._id != item_id:
            self._pending = ObjectRef(item_id, _client=self._client)
        return self._pending

    def _wait_ids(self) -> list[str]:
        """What wait() watches: the next item's id and the end's (the stream may be over)."""
        return [self._next_ref()._id, self._end._id]

    def completed(self) -> ObjectRef:
        """A ref that is ready when the generator task has finished."""
        return self._end

    def __repr__(self) -> str:
        return f"ObjectRefGenerator({to_hex(self._task_id)})"
