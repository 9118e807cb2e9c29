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

    def __iter__(self) -> ObjectRefGenerator:
        return self

    def __next__(self) -> ObjectRef:
        client = self._client
        item_id = f"{self._task_id}.g{self._next}"
        item = ObjectRef(item_id, _client=client)
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

    def completed(self) -> ObjectRef:
        """A ref that is ready when the generator task has finished."""
        return self._end

    def __repr__(self) -> str:
        return f"ObjectRefGenerator({to_hex(self._task_id)})"
