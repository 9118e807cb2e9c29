"""The head's table of objects: where each lives, who holds it, and when it can be freed.

An object stays alive while any of these hold it:
  * holders: processes with at least one live ObjectRef to it (INCREF/DECREF at 0<->1 edges),
  * pins: pending tasks that take it as an argument, and stored values that contain its ref.
When both are gone the shared-memory segment is unlinked and its bytes leave the store's count.

Capacity: sealed shared-memory bytes are counted against `capacity`; going over spills the least
recently used objects that no running task is reading to the session's spill directory on disk.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from . import config, object_store

_RECYCLE_MIN = 1 << 20  # smaller segments are cheap to create; not worth pooling


_NO_COPIES: frozenset[str] = frozenset()


class Obj:
    __slots__ = (
        "contained",
        "copies",
        "created",
        "desc",
        "holders",
        "last_access",
        "node",
        "owner",
        "pins",
        "size",
        "spilled",
        "task_id",
        "waiters",
    )

    def __init__(self, owner: str | None, task_id: str | None) -> None:
        self.desc: tuple | None = None
        self.size = 0
        self.holders: set[str] = set()
        self.pins = 0
        self.contained: list[str] = []
        self.waiters: set[str] = set()
        self.owner = owner
        self.task_id = task_id
        self.created = time.time()
        self.last_access = time.monotonic()
        self.spilled = False
        self.node: str | None = None  # where its segment lives; None: the head's node
        # Other nodes that pulled a copy (object_transfer.py). Immutable and replaced on change:
        # almost every object has none, and one shared empty frozenset costs nothing per
        # object where an empty set cost 216 bytes (measured: 900 B per object in all).
        self.copies: frozenset[str] = _NO_COPIES


class ObjectDirectory:
    def __init__(
        self,
        shm_dir: str,
        spill_dir: str,
        capacity: int,
        notify: Callable[[str, str, tuple], None],
        emit: Callable[..., None],
    ) -> None:
        self.objects: dict[str, Obj] = {}
        self.shm_dir = shm_dir
        self.spill_dir = spill_dir
        self.capacity = capacity
        self.used = 0  # bytes in shared memory
        self.spilled_bytes = 0
        self._notify = notify  # (client_id, oid, desc): push an OBJ message
        self._emit = emit
        self.on_free: Callable[[str], None] | None = None
        # (node id, segment name): unlink a segment that lives on another node.
        self.on_remote_discard: Callable[[str, str], None] | None = None
        self.local_node_id = ""
        self._recycle_serial = 0

    # -- creation
    def expect(self, oid: str, owner: str, task_id: str | None) -> Obj:
        obj = self.objects.get(oid)
        if obj is None:
            obj = Obj(owner, task_id)
            self.objects[oid] = obj
        obj.holders.add(owner)
        return obj

    def seal(
        self,
        oid: str,
        desc: tuple,
        contained: list[str],
        holder: str | None = None,
        node: str | None = None,
    ) -> None:
        """Record a finished object; `node` is where a shared-memory one was written."""
        node = None if node == self.local_node_id else node
        obj = self.objects.get(oid)
        if obj is None:
            if holder is None:
                # Nobody can ever read it: a result whose refs were all dropped and then freed.
                self._discard_desc(desc, node)
                return
            obj = self.objects[oid] = Obj(holder, None)
        if holder is not None:
            obj.holders.add(holder)
        if obj.desc is not None:  # a retried task's second result: keep the first
            self._discard_desc(desc, node)
            return
        obj.desc = desc
        obj.size = _desc_size(desc)
        obj.node = node if desc[0] == "s" else None
        if desc[0] == "s" and node is None:
            self.used += obj.size
        elif desc[0] == "f":  # written straight to disk: memory was full (see make_room)
            self.spilled_bytes += obj.size
            obj.spilled = True
        for inner in contained:
            self.pin(inner)
        obj.contained = contained
        self._emit("object", oid, "SEALED", {"size": obj.size, "where": desc[0]})
        for client in obj.waiters:
            self._notify(client, oid, desc)
        obj.waiters.clear()
        if not obj.holders and obj.pins <= 0:
            self._free(oid, obj)

    # -- references
    def incref(self, client: str, oids: list[str]) -> None:
        for oid in oids:
            obj = self.objects.get(oid)
            if obj is not None:
                obj.holders.add(client)

    def decref(self, client: str, oids: list[str]) -> None:
        for oid in oids:
            obj = self.objects.get(oid)
            if obj is None:
                continue
            obj.holders.discard(client)
            obj.waiters.discard(client)
            if not obj.holders and obj.pins <= 0 and obj.desc is not None:
                self._free(oid, obj)

    def pin(self, oid: str) -> None:
        obj = self.objects.get(oid)
        if obj is not None:
            obj.pins += 1

    def unpin(self, oid: str) -> None:
        obj = self.objects.get(oid)
        if obj is None:
            return
        obj.pins -= 1
        if obj.pins <= 0 and not obj.holders and obj.desc is not None:
            self._free(oid, obj)

    def drop_client(self, client: str) -> None:
        for oid, obj in list(self.objects.items()):
            if client in obj.holders or client in obj.waiters:
                obj.waiters.discard(client)
                obj.holders.discard(client)
                if not obj.holders and obj.pins <= 0 and obj.desc is not None:
                    self._free(oid, obj)

    def owns_puts(self, client: str) -> bool:
        """Whether `client` put objects that still exist (its exit would lose them)."""
        return any(
            obj.owner == client and obj.task_id is None and obj.desc and obj.desc[0] != "e"
            for obj in self.objects.values()
        )

    def owner_died(self, client: str, error: Callable[[str], tuple]) -> list[str]:
        """The objects `client` put that others still reference lose their bytes and read as
        `error(oid)` from now on: as in Ray, a put object belongs to the process that put it
        and dies with it (call after drop_client, so what nobody else holds is simply freed).
        """
        died = []
        for oid, obj in list(self.objects.items()):
            if self.objects.get(oid) is not obj:  # freed meanwhile (unpinned below)
                continue
            if obj.owner != client or obj.task_id is not None or obj.desc is None:
                continue
            if obj.desc[0] == "e":
                continue
            self._release_bytes(obj)
            for inner in obj.contained:
                self.unpin(inner)
            obj.desc = error(oid)
            obj.size, obj.node, obj.spilled = 0, None, False
            obj.copies = _NO_COPIES
            obj.contained = []
            for holder in obj.holders:  # a holder may keep an inline value it read before
                self._notify(holder, oid, obj.desc)
            died.append(oid)
        return died

    # -- reads
    def want(self, client: str, oid: str) -> tuple | None:
        """The object's desc if ready (caller pushes it); otherwise remember who waits."""
        obj = self.objects.get(oid)
        if obj is None:
            return None
        if obj.desc is not None:
            obj.last_access = time.monotonic()
            return obj.desc
        obj.waiters.add(client)
        return None

    def get(self, oid: str) -> Obj | None:
        return self.objects.get(oid)

    def add_copy(self, oid: str, node: str) -> None:
        obj = self.objects.get(oid)
        if obj is not None and obj.desc is not None and node != (obj.node or self.local_node_id):
            obj.copies = obj.copies | {node}

    def locations(self, oid: str) -> list[str]:
        """Node ids holding the object's bytes, the original first."""
        obj = self.objects.get(oid)
        if obj is None or obj.desc is None or obj.desc[0] not in ("s", "f"):
            return []
        return [obj.node or self.local_node_id, *sorted(obj.copies)]

    def node_lost(self, node: str) -> list[str]:
        """Forget `node`'s copies; returns the objects whose only bytes were there."""
        lost = []
        for oid, obj in self.objects.items():
            if node in obj.copies:
                obj.copies = obj.copies - {node}
            if obj.node != node:
                continue
            if obj.copies:
                survivor = min(obj.copies)
                obj.copies = obj.copies - {survivor}
                obj.node = None if survivor == self.local_node_id else survivor
                if obj.node is None:
                    self.used += obj.size
            else:
                lost.append(oid)
        return lost

    def reset(self, oid: str) -> None:
        """Back to pending: its bytes are gone and its task will make it again."""
        obj = self.objects.get(oid)
        if obj is not None:
            obj.desc = None
            obj.node = None
            obj.copies = _NO_COPIES

    # -- freeing and capacity
    def _release_bytes(self, obj: Obj) -> None:
        """Give back the store's (or spill's) room for `obj`'s bytes and drop them and their
        copies on other nodes (the caller decides what becomes of the record)."""
        assert obj.desc is not None
        if obj.desc[0] == "s" and obj.node is None:
            self.used -= obj.size
        elif obj.desc[0] == "f":
            self.spilled_bytes -= obj.size
        self._discard_desc(obj.desc, obj.node)
        for node in obj.copies:
            self._discard_desc(obj.desc, node, recycle=False)

    # -- freeing and capacity
    def _free(self, oid: str, obj: Obj) -> None:
        del self.objects[oid]
        if obj.desc is not None:
            self._release_bytes(obj)
        self._emit("object", oid, "FREED", None)
        for inner in obj.contained:
            self.unpin(inner)
        if self.on_free is not None:
            self.on_free(oid)

    def discard_unsealed(self, desc: tuple, node: str | None) -> None:
        """Free the bytes behind a result that will never be sealed (its caller is gone)."""
        self._discard_desc(desc, node)

    def _discard_desc(self, desc: tuple, node: str | None = None, recycle: bool = True) -> None:
        if node is not None and node != self.local_node_id:
            if desc[0] in ("s", "f") and self.on_remote_discard is not None:
                self.on_remote_discard(node, os.path.basename(str(desc[1])))
            return
        if desc[0] == "s" and not recycle:
            object_store.delete_segment(object_store.segment_path(self.shm_dir, desc[1]))
        elif desc[0] == "s":
            path = object_store.segment_path(self.shm_dir, desc[1])
            size = int(desc[2])
            # Large segments are kept for reuse (their pages already exist, so the next large
            # put is a plain memory copy) while the pool stays within half the store's room.
            pool = os.path.join(self.shm_dir, object_store.POOL_DIR)
            room = self.capacity // 2 - self.used
            if size >= _RECYCLE_MIN and object_store.recycled_bytes(pool) + size <= room:
                self._recycle_serial += 1
                object_store.recycle(path, size, self._recycle_serial)
            else:
                object_store.delete_segment(path)
        elif desc[0] == "f":
            object_store.delete_segment(desc[1])

    def trim_recycled(self) -> None:
        """Give recycled pages back when live objects need the room."""
        pool = os.path.join(self.shm_dir, object_store.POOL_DIR)
        object_store.trim_recycled(pool, max(0, self.capacity - self.used) // 2)

    def over_capacity(self) -> int:
        return self.used - self.capacity

    def spill_until(self, need: int, busy: set[str]) -> int:
        """Spill least recently used segments until `need` bytes are freed; returns bytes freed."""
        candidates = sorted(
            (
                (obj.last_access, oid)
                for oid, obj in self.objects.items()
                if obj.desc is not None
                and obj.desc[0] == "s"
                and obj.node is None
                and oid not in busy
                # A task's or actor's argument block: its desc is baked into the spec that
                # workers read, so it stays in shared memory until the task is done.
                and not any(h.startswith(("task:", "actor:")) for h in obj.holders)
            ),
        )
        freed = 0
        for _, oid in candidates:
            if freed >= need:
                break
            obj = self.objects[oid]
            if obj.size > self.spill_room():
                break  # the disk (or RAYGROUND_SPILL_LIMIT) is full too
            assert obj.desc is not None  # candidates all have a shared-memory desc
            src = object_store.segment_path(self.shm_dir, obj.desc[1])
            try:
                target = object_store.spill(src, self.spill_dir)
            except OSError:
                break  # the disk is full too
            obj.desc = ("f", target, obj.size)
            obj.spilled = True
            self.used -= obj.size
            self.spilled_bytes += obj.size
            freed += obj.size
            self._emit("object", oid, "SPILLED", {"size": obj.size})
        return freed

    def spill_room(self) -> int:
        """Bytes that can still be spilled: the disk's free space, within RAYGROUND_SPILL_LIMIT."""
        try:
            os.makedirs(self.spill_dir, mode=0o700, exist_ok=True)
            st = os.statvfs(self.spill_dir)
            room = st.f_bavail * st.f_frsize
        except OSError:
            room = 0
        if config.SPILL_LIMIT > 0:
            room = min(room, config.SPILL_LIMIT - self.spilled_bytes)
        return max(room, 0)

    def snapshot(self) -> list[dict[str, Any]]:
        rows = []
        for oid, obj in self.objects.items():
            rows.append(
                {
                    "object_id": oid,
                    "object_size": obj.size,
                    "task_id": obj.task_id,
                    "owner": obj.owner,
                    "reference_count": len(obj.holders) + max(obj.pins, 0),
                    "holders": sorted(obj.holders),
                    "pins": obj.pins,
                    "status": "READY" if obj.desc is not None else "PENDING",
                    "where": {
                        "i": "inline",
                        "s": "shared_memory",
                        "f": "spilled",
                        "e": "error",
                    }.get(obj.desc[0], "?")
                    if obj.desc
                    else "pending",
                    "spilled": obj.spilled,
                    "created": obj.created,
                    "node_id": obj.node or self.local_node_id,
                    "copies": sorted(obj.copies),
                }
            )
        return rows


def _desc_size(desc: tuple) -> int:
    kind = desc[0]
    if kind in ("i", "e"):
        return len(desc[1])
    return int(desc[2])


def remove_tree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    if os.path.exists(path):
        shutil.rmtree(path, ignore_errors=True)
