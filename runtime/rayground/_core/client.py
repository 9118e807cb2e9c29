"""CoreClient: one process's connection to the head (drivers, workers and the CLI all use it).

Data flow:

    caller threads --send()--> [connection] ----frames----> head
                                                                 |
    I/O thread <--recv--------  [same connection] <--OBJ/REPLY/EXECUTE--+
        |-- OBJ      -> self._descs, wakes get()/wait() waiters, completes futures
        |-- REPLY    -> the request's future
        |-- EXECUTE  -> on_execute callback (workers: the task queue)
        |-- LOG      -> printed with its "(name pid=N)" prefix (drivers)

Caller threads send under a lock (no thread hop on the submit path). A thread waiting in get()
or wait() reads for itself; otherwise the I/O thread reads. The head closing the connection (it
exited, or was killed) is seen as end-of-stream at once. Reference-count changes and log lines
are queued in `_pending` (a deque: safe to append from `ObjectRef.__del__` in any thread) and
leave in order, ahead of the next message or within `_FLUSH_INTERVAL` if nothing else is sent.

Besides the head's connection, a process may hold direct connections to actors' workers (and an
actor's worker, its callers' connections): `self.direct`, see direct_calls.py. They are read in
the same passes, before the head's socket.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from .. import exceptions
from . import config, handshake, ids, object_store, protocol, tls
from .direct_calls import ACTOR_AT, Channel, DirectCalls
from .protocol import DECREF, INCREF, LOG, OBJ, REPLY, WANT
from .serialization import SerializedObject, deserialize, serialize
from .transport import FrameSocket, connect

# Queued messages wait at most this long for the I/O thread: submissions briefly (they are work
# someone waits for), reference-count changes longer (fewer wake-ups competing for the GIL).
_SUBMIT_FLUSH = 0.002
_FLUSH_INTERVAL = 0.02
_SUBMIT_BATCH = 256
# The head's copy of a direct actor call (its registration, its `done`) is bookkeeping, not on
# anyone's way: it leaves within this, with other queued messages, several calls to a frame.
_BOOKKEEPING_FLUSH = 0.002
# Messages from the head that only a worker acts on, at once, on whichever thread reads them.
_TO_WORKER = (protocol.CANCEL_TASK, protocol.KILL_WORKER)


class _Waiter:
    """How many of a get/wait's objects are still missing. A plain flag, not an Event: the
    waiting thread reads the connection itself and checks it between reads (a reader on another
    thread that completes it wakes the waiter's poll), so nothing ever blocks on it."""

    __slots__ = ("done", "need")

    def __init__(self, need: int) -> None:
        self.need = need
        self.done = False

    def is_set(self) -> bool:
        return self.done

    def set(self) -> None:
        self.done = True


class ClusterConnectionError(ConnectionError):
    """No head answered at the address, or the head went away."""


class _SigintShield:
    """Holds a Ctrl-C (SIGINT) that arrives while the main thread consumes frames from the head
    until they are all dispatched, then delivers it: an interrupt halfway through a batch would
    drop the rest of it (an object's arrival among them), and a later get would wait forever.
    The wait for data stays interruptible; only the short read-and-dispatch is covered.

    The handler is installed once, in front of whatever handler was there (Python's default, or
    a kernel's), and passes every other SIGINT straight through: swapping handlers around each
    read instead cost ~10 us a read, a sixth of a no-op task. Whoever installs a handler later
    simply replaces this one (then reads are unshielded, as before).
    """

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False
        self.users = 0  # clients of this process that asked for the shield
        self.previous: Callable[[int, Any], Any] | None = None
        self.main_ident = threading.main_thread().ident

    def install(self) -> None:
        self.users += 1
        if self.previous is not None or threading.get_ident() != self.main_ident:
            return
        try:
            current = signal.getsignal(signal.SIGINT)
            if not callable(current):  # ignored, default-terminate or set outside Python
                return
            if current == self._on_sigint:  # still ours (never chain to ourselves)
                current = signal.default_int_handler
            signal.signal(signal.SIGINT, self._on_sigint)
        except (ValueError, TypeError):  # not the main interpreter
            return
        self.previous = current

    def uninstall(self) -> None:
        self.users = max(0, self.users - 1)
        if self.users:
            return
        previous = self.previous
        if previous is None or threading.get_ident() != self.main_ident:
            return  # (off the main thread our handler stays, still chaining to `previous`)
        self.previous = None
        try:
            if signal.getsignal(signal.SIGINT) == self._on_sigint:
                signal.signal(signal.SIGINT, previous)
        except (ValueError, TypeError):
            pass

    def _on_sigint(self, signum: int, frame: Any) -> Any:
        if self.depth:
            self.pending = True
            return None
        previous = self.previous or signal.default_int_handler
        return previous(signum, frame)

    def __enter__(self) -> None:
        if threading.get_ident() == self.main_ident:
            self.depth += 1

    def __exit__(self, *exc: object) -> None:
        if threading.get_ident() != self.main_ident:
            return
        self.depth -= 1
        if not self.depth and self.pending:
            self.pending = False
            (self.previous or signal.default_int_handler)(signal.SIGINT, None)


_sigint_shield = _SigintShield()


class CoreClient:
    def __init__(
        self,
        address: str,
        token: bytes,
        *,
        role: str,
        info: dict[str, Any] | None = None,
        on_execute: Callable[[tuple], None] | None = None,
        on_log: Callable[[list], None] | None = None,
        on_dead: Callable[[str], None] | None = None,
        connect_timeout: float = 10.0,
        head_pid: int | None = None,
    ) -> None:
        self.address = address
        self.role = role
        self.client_id = ids.unique("c")
        self._send_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._reader_cond = threading.Condition()
        self._active_readers = 0
        self._io_polling = False  # the I/O thread is (about to be) in poll on the socket
        self._pending: collections.deque = collections.deque()
        self._submits_queued = False  # something someone waits for is queued: send it now
        self._due: float | None = None  # when the rest of `_pending` must leave at the latest
        self._cond = threading.Condition()
        self._descs: dict[str, tuple] = {}
        self._expected: set[str] = set()  # pushed to us without asking (our own task returns)
        self._direct: dict[str, Channel] = {}  # results owed by an actor over a direct channel
        self._wanted: set[str] = set()
        self._futures: dict[str, list[concurrent.futures.Future]] = {}
        self._waiters: dict[str, list[_Waiter]] = {}
        self._requests: dict[int, concurrent.futures.Future] = {}
        self._req_ids = itertools.count(1)
        self._local: dict[str, int] = {}
        self._ref_lock = threading.RLock()
        self._on_execute = on_execute
        self._on_log = on_log
        self._on_dead = on_dead
        # Workers: while a task waits in a blocking get, tasks queued on this worker are handed
        # back to the head (see TaskTable._prefetch), so waiting on them cannot deadlock.
        self.in_blocking_get = 0
        self.before_block: Callable[[], list[str]] | None = None
        self._event_handlers: list[Callable[[int, list, int], None]] = []
        self._closed = False
        self._dead_reason: str | None = None
        self._exported_fns: set[str] = set()
        self._store_room = 0  # bytes of shared memory the head last said were free (see store)

        hello = dict(info or {})
        hello.update(role=role, pid=os.getpid(), client_id=self.client_id, machine=ids.machine_id())
        hello.setdefault("version", config.PROTOCOL_VERSION)
        try:
            self._conn = FrameSocket(connect(address, connect_timeout, pin=tls.token_pin(token)))
        except (OSError, ValueError) as exc:
            raise ClusterConnectionError(
                f"No rayground cluster is listening at {address} ({exc}). Check the address and "
                "that the cluster is running (`rayground status`)."
            ) from None
        self._token = token  # also proves who we are to other nodes' object servers
        self.direct = DirectCalls(self, token, (info or {}).get("worker_id"))
        # Only workers cache mappings: they purge stale ones when idle (worker.run); a driver's
        # cache would pin a freed object's memory until its next get.
        self.mappings = object_store.MappingCache(16 if role == "worker" else 0)
        try:
            handshake.run_peer(
                self._conn.send, lambda: self._conn.recv_one(connect_timeout), token, hello
            )
            first = self._conn.recv_one(connect_timeout)
        except (handshake.HandshakeError, OSError) as exc:
            self._conn.close()
            raise ClusterConnectionError(
                f"Could not join the cluster at {address}: {exc}. The token itself is never "
                "sent. Check the address, and the token (RAYGROUND_TOKEN or the session's "
                "token file)."
            ) from None
        welcome = protocol.loads(first) if first is not None else None
        if welcome and welcome[0][0] == "refused":
            self._conn.close()
            raise ClusterConnectionError(str(welcome[0][1]))
        if not welcome or welcome[0][0] != "welcome":
            self._conn.close()
            raise ClusterConnectionError(
                f"The cluster at {address} did not accept this connection within "
                f"{connect_timeout:.0f} s: wrong token, or not a rayground cluster. Check the "
                "token (RAYGROUND_TOKEN or the session's token file)."
            )
        self.session: dict[str, Any] = welcome[0][1]
        self._early = welcome[1:]  # messages that shared the welcome's frame
        self.head_pid = head_pid if head_pid is not None else self.session.get("head_pid")
        self._next_purge = 0.0
        self._io_thread = threading.Thread(target=self._io_loop, name="rayground-io", daemon=True)
        self._io_thread.start()
        _sigint_shield.install()

    # ------------------------------------------------------------------ sending
    def send(self, *messages: tuple) -> None:
        """Send messages in one frame, after anything queued in `_pending` (keeps order)."""
        if self._dead_reason is not None:
            raise self._dead_error()
        with self._send_lock:
            self._submits_queued = False
            self._due = None
            if self.direct.dirty:
                # Direct calls and their results first: they are what someone waits for; the
                # head's copy (registration, done) is bookkeeping.
                self.direct.flush()
            batch = self._drain_pending()
            batch.extend(messages)
            if batch:
                try:
                    self._conn.send(protocol.dumps(batch))
                except OSError as exc:
                    self._mark_dead(f"the connection to the head broke: {exc}")
                    raise self._dead_error() from None

    def _drain_pending(self) -> list[tuple]:
        pending = self._pending
        if not pending:
            return []
        increfs: list[str] = []
        decrefs: list[str] = []
        batch: list[tuple] = []
        logs: list = []
        while pending:
            kind, item = pending.popleft()
            # Runs of the same kind are merged; alternations are kept in order, because an incref
            # after a decref of the same id must not be reordered.
            if kind == INCREF:
                if decrefs:
                    batch.append((DECREF, decrefs))
                    decrefs = []
                increfs.append(item)
            elif kind == DECREF:
                if increfs:
                    batch.append((INCREF, increfs))
                    increfs = []
                decrefs.append(item)
            else:
                if increfs:
                    batch.append((INCREF, increfs))
                    increfs = []
                if decrefs:
                    batch.append((DECREF, decrefs))
                    decrefs = []
                if kind == LOG:
                    logs.append(item)
                    continue
                batch.append(item)
        if increfs:
            batch.append((INCREF, increfs))
        if decrefs:
            batch.append((DECREF, decrefs))
        if logs:
            by_job: dict[str, list] = {}
            for job_id, line in logs:
                by_job.setdefault(job_id, []).append(line)
            batch.extend((LOG, job, lines) for job, lines in by_job.items())
        return batch

    def has_unsent(self) -> bool:
        return bool(self._pending) or self.direct.dirty

    def _flush_due(self) -> None:
        """Before waiting: send what someone may be waiting for (submissions, direct calls),
        and the rest of what is queued once it is due."""
        due = self._due
        if due is None and self._pending:
            # Queued by another thread just as a send cleared the due time: it still leaves
            # within the flush interval, never waits for the next message.
            self._due = due = time.monotonic() + _FLUSH_INTERVAL
        if (
            self._submits_queued
            or (due is not None and time.monotonic() >= due)
            or len(self._pending) >= _SUBMIT_BATCH
        ):
            self.flush()
        elif self.direct.dirty:
            self.flush_direct()

    def flush_direct(self) -> None:
        """Send queued direct calls or results now; the head's messages wait until due."""
        if self._dead_reason is None and not self._closed:
            with self._send_lock:
                self.direct.flush()

    def _due_in(self, seconds: float) -> None:
        due = time.monotonic() + seconds
        if self._due is None or due < self._due:
            self._due = due

    def _wait_limit(self, wait: float) -> float:
        """`wait`, shortened to when queued messages fall due."""
        due = self._due
        if due is None:
            return wait
        return max(0.0, min(wait, due - time.monotonic()))

    def flush(self) -> None:
        if not self.has_unsent():
            # A due time set just after another thread sent what it was for: nothing is left
            # to wait for (a due time in the past would make every wait zero).
            self._due = None
            return
        if self._dead_reason is None and not self._closed:
            try:
                self.send()
            except exceptions.RayError:
                pass

    def submit(self, message: tuple) -> None:
        """Queue a submission; it leaves with the next send, a get/wait, or within ~2 ms.

        Batching is what lets a loop of 10,000 `.remote()` calls cost a few hundred syscalls
        instead of 10,000; get() and wait() flush first, so one-at-a-time latency is unchanged.
        """
        if self._dead_reason is not None:
            raise self._dead_error()
        self._pending.append((None, message))
        if not self._submits_queued:
            self._submits_queued = True
            self._nudge()
        if len(self._pending) >= _SUBMIT_BATCH:
            self.flush()

    def _nudge(self) -> None:
        """The first submission of a batch was just queued: if this thread runs an asyncio
        event loop, send it as soon as the running step of the loop ends.

        A caller on an event loop (an async actor, a Serve proxy or replica, a notebook cell
        that awaits) never calls get() or wait(), which are what flush for everyone else; its
        call would wait in `_pending` for the I/O thread's next timed wake, up to
        `_FLUSH_INTERVAL`, on every await. Sending from the loop keeps the batch: every
        `.remote()` of the step leaves in one frame, and no other thread is woken (waking the
        I/O thread per batch made it race the submitting thread for the GIL and send frames
        of one call, halving a plain loop's submission rate).
        """
        asyncio = sys.modules.get("asyncio")  # no asyncio imported: no loop can be running
        if asyncio is None or threading.current_thread() is self._io_thread:
            return
        loop = asyncio.events._get_running_loop()
        if loop is not None:
            loop.call_soon(self.flush)

    def submit_actor_call(self, spec: dict[str, Any]) -> None:
        """Queue an actor call: straight to the actor's worker when it may go directly (see
        direct_calls.py), registered with the head either way."""
        if self._dead_reason is not None:
            raise self._dead_error()
        returns = spec["returns"]
        with self.direct.lock:
            direct_was_dirty = self.direct.dirty
            channel = self.direct.route_call(spec)
            if channel is not None:
                for oid in returns:
                    self._direct[oid] = channel
            else:
                self._expected.update(returns)
            self._pending.append((None, (protocol.SUBMIT, spec)))
        if channel is None:
            if not self._submits_queued:
                self._submits_queued = True
                self._nudge()
        else:
            if not direct_was_dirty:
                self._nudge()  # the first direct call since the channels were last sent
            self._due_in(_BOOKKEEPING_FLUSH)
        if len(self._pending) >= _SUBMIT_BATCH:
            self.flush()

    def _direct_channel_lost(self, channel: Channel) -> None:
        """Ask the head for every result still owed on a direct channel that ended (the actor's
        worker died or left): the head answers each with the value, a retry's, or the error."""
        owed = [oid for oid, ch in self._direct.items() if ch is channel]
        for oid in owed:
            del self._direct[oid]
        owed = [oid for oid in owed if oid not in self._descs and oid in self._local]
        if owed:
            self._wanted.update(owed)
            self._pending.append((None, (WANT, owed, False)))
            self._submits_queued = True
            self._conn.kick()

    def queue_log(self, job_id: str, line: tuple) -> None:
        self._pending.append((LOG, (job_id, line)))
        self._due_in(_BOOKKEEPING_FLUSH)

    def queue_message(self, message: tuple, urgent: bool = True) -> None:
        """Send `message` in order with ref-count changes, without taking the send lock now:
        before this process next waits (urgent), or within a few ms (bookkeeping)."""
        self._pending.append((None, message))
        if urgent:
            self._submits_queued = True
        else:
            self._due_in(_BOOKKEEPING_FLUSH)

    # ------------------------------------------------------------------ references
    def add_local_ref(self, oid: str, borrowed: bool) -> None:
        with self._ref_lock:
            n = self._local.get(oid, 0)
            self._local[oid] = n + 1
        if n == 0 and borrowed:
            self._queue_ref_change(INCREF, oid)

    def release_local_ref(self, oid: str) -> None:
        if self._closed:
            return
        with self._ref_lock:
            n = self._local.get(oid, 0) - 1
            if n > 0:
                self._local[oid] = n
                return
            self._local.pop(oid, None)
        self._descs.pop(oid, None)
        self._expected.discard(oid)
        self._wanted.discard(oid)
        self._direct.pop(oid, None)
        self._queue_ref_change(DECREF, oid)

    def _queue_ref_change(self, kind: str, oid: str) -> None:
        self._pending.append((kind, oid))
        if self._due is None:  # (not _due_in: this is hot, and nothing else is due later)
            self._due = time.monotonic() + _FLUSH_INTERVAL

    def expect(self, oids: Iterable[str]) -> None:
        self._expected.update(oids)

    # ------------------------------------------------------------------ objects
    def store(self, oid: str, obj: SerializedObject) -> tuple:
        """Place a serialised value: inline when small, else a shared-memory segment."""
        size = obj.total_size
        if size <= self.session["inline_max"]:
            return ("i", obj.to_bytes())
        if size > self._store_room:
            # Ask the head for room (it spills to disk if it must) only when the room it last
            # reported is used up: one round trip per store-full of writes, not one per object.
            # Raises ObjectStoreFullError when memory and the spill disk are both full.
            room = self.request("make_room", {"bytes": size}, timeout=60)
            if isinstance(room, str):  # memory is full of objects in use: write it to disk
                return self._store_on_disk(os.path.join(room, oid), obj)
            self._store_room = int(room)
        self._store_room -= size
        path = object_store.segment_path(self.session["shm_dir"], oid)
        try:
            object_store.write_segment(path, obj)
        except object_store.StoreFullError:
            # /dev/shm itself is full (smaller than object_store_memory): spill and retry once.
            room = self.request("make_room", {"bytes": 2 * size}, timeout=60)
            if isinstance(room, str):
                return self._store_on_disk(os.path.join(room, oid), obj)
            self._store_room = int(room)
            try:
                object_store.write_segment(path, obj)
            except object_store.StoreFullError:
                shm = os.statvfs(os.path.dirname(path))
                raise exceptions.ObjectStoreFullError(
                    f"Out of shared memory: an object of {size / 1e6:.1f} MB was asked for, but "
                    f"{os.path.dirname(os.path.dirname(path))} has only "
                    f"{shm.f_bavail * shm.f_frsize / 1e6:.1f} MB free. Free references, or "
                    "start the cluster with a smaller object_store_memory so it spills sooner."
                ) from None
        return ("s", oid, size)

    def _store_on_disk(self, path: str, obj: SerializedObject) -> tuple:
        try:
            size = object_store.write_segment(path, obj)
        except object_store.StoreFullError:
            disk = os.statvfs(os.path.dirname(path))
            raise exceptions.ObjectStoreFullError(
                f"Out of object store memory and disk: an object of {obj.total_size / 1e6:.1f} "
                f"MB was asked for; memory is full of objects in use and the spill directory "
                f"has {disk.f_bavail * disk.f_frsize / 1e6:.1f} MB free. Free references you no "
                "longer need (del ref), or give the cluster more memory or disk."
            ) from None
        return ("f", path, size)

    def put_serialized(self, oid: str, obj: SerializedObject) -> None:
        desc = self.store(oid, obj)
        self._descs[oid] = desc
        self.send((protocol.PUT, oid, desc, obj.contained))

    def put(self, value: Any) -> str:
        oid = ids.unique("o")
        obj = serialize(value)
        self.put_serialized(oid, obj)
        return oid

    def _want(self, oids: list[str], blocking: bool) -> None:
        expected, wanted, direct = self._expected, self._wanted, self._direct
        new = [o for o in oids if o not in expected and o not in wanted and o not in direct]
        if new or blocking:
            self._wanted.update(new)
            self.send((WANT, new, blocking))

    def wait_descs(
        self, oids: list[str], num_returns: int, timeout: float | None, blocking: bool
    ) -> list[str]:
        """Wait until `num_returns` of `oids` are known; returns those ready, in `oids` order."""
        descs = self._descs
        with self._cond:
            unique = set(oids)
            missing = [o for o in unique if o not in descs]
            need = num_returns - (len(unique) - len(missing))
            if need <= 0:
                return self._ready(oids)
            # Register one waiter for all missing ids: the I/O thread counts arrivals down, so a
            # get() on 10,000 refs costs O(1) per arrival instead of a rescan per wake-up.
            waiter = _Waiter(need)
            for oid in missing:
                self._waiters.setdefault(oid, []).append(waiter)
        if blocking:
            self.in_blocking_get += 1
            if self.before_block is not None:
                returned = self.before_block()
                if returned:
                    self._pending.append((None, (protocol.RETURN, returned)))
        self._want(missing, blocking)
        self._flush_due()
        try:
            self.pump_until(waiter.is_set, timeout)
            if self._dead_reason is not None:
                raise self._dead_error()
        finally:
            with self._cond:
                for oid in missing:
                    waiting = self._waiters.get(oid)
                    if waiting is not None and waiter in waiting:
                        waiting.remove(waiter)
                        if not waiting:
                            del self._waiters[oid]
            if blocking:
                self.in_blocking_get -= 1
            if blocking and self._dead_reason is None:
                self.send((protocol.UNBLOCKED,))
        return self._ready(oids)

    def _ready(self, oids: list[str]) -> list[str]:
        descs = self._descs
        return [o for o in oids if o in descs]

    def get_values(self, oids: list[str], timeout: float | None, blocking: bool) -> list[Any]:
        ready = self.wait_descs(oids, len(set(oids)), timeout, blocking)
        if len(ready) < len(set(oids)):
            pending = [o for o in oids if o not in self._descs]
            raise exceptions.GetTimeoutError(
                f"Get timed out: {len(pending)} of {len(oids)} objects were not ready within "
                f"{timeout} s (first pending: ObjectRef({ids.to_hex(pending[0])})). The tasks "
                "keep running; call get again, or raise the timeout."
            )
        return [self.value_of(o) for o in oids]

    def value_of(self, oid: str) -> Any:
        for _attempt in range(3):
            desc = self._descs.get(oid)
            if desc is None:
                self.wait_descs([oid], 1, None, blocking=False)
                desc = self._descs[oid]
            try:
                return self.decode(oid, desc)
            except FileNotFoundError:
                # Spilled or restored since we learned its place: ask the head where it is now.
                self._descs.pop(oid, None)
                self._wanted.discard(oid)
                self._expected.discard(oid)
        raise exceptions.ObjectLostError(ids.to_hex(oid))

    def decode(self, oid: str, desc: tuple) -> Any:
        """The value a desc points to; raises the stored error for error descs."""
        kind = desc[0]
        if kind == "i":
            return deserialize(desc[1])
        if kind == "e":
            raise _as_exception(deserialize(desc[1]))
        return deserialize(self._pinned(oid, self.mappings.map(self.local_path(oid, desc))))

    def local_path(self, oid: str, desc: tuple) -> str:
        """Where this node can map the object of a shared-memory or spilled desc, pulling it from
        the node that holds it first when it lives on another node (object_transfer.py)."""
        if desc[0] == "f" and os.path.exists(desc[1]):
            return desc[1]
        name = os.path.basename(str(desc[1]))
        path = object_store.segment_path(self.session["shm_dir"], name)
        if os.path.exists(path):
            return path
        sources = self.request("locate", {"oid": oid})
        if not sources:
            raise FileNotFoundError(path)  # freed, spilled or lost meanwhile: ask again
        from .object_transfer import pull

        last: Exception | None = None
        for address, remote_name in sources:
            try:
                pull(address, self._token, remote_name, path)
            except FileExistsError:
                pass  # another reader on this node got it first
            except (OSError, ConnectionError) as exc:
                if os.path.exists(path):
                    break
                last = exc
                continue
            self.send((protocol.COPIED, oid))
            return path
        if os.path.exists(path):
            return path
        raise FileNotFoundError(f"could not fetch object {oid} from {sources}: {last}")

    def _pinned(self, oid: str, mapping: memoryview) -> memoryview:
        """A view of `mapping` that holds a reference to `oid` while any value built on it lives.

        Zero-copy values (NumPy arrays) point into the segment; as in Ray, the object must not be
        freed (or its segment reused for another object) while they exist, even if every
        ObjectRef is gone. The ndarray wrapper is there because it can be weakly referenced.
        """
        import numpy as np

        base = np.frombuffer(mapping, dtype=np.uint8)
        self.add_local_ref(oid, borrowed=True)
        weakref.finalize(base, self.release_local_ref, oid)
        # memoryview(base), which mypy rejects for 3.10 (numpy types __buffer__ from 3.12 on)
        return base.data

    def future_for(self, ref: Any) -> concurrent.futures.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()
        oid = ref._id
        with self._cond:
            if oid not in self._descs:
                self._futures.setdefault(oid, []).append(fut)
                fut._rayground_ref = ref  # type: ignore[attr-defined]  # keep the ref alive
                pending = True
            else:
                pending = False
        if pending:
            self._want([oid], blocking=False)
        else:
            self._complete_future(fut, oid)
        return fut

    def _complete_future(self, fut: concurrent.futures.Future, oid: str) -> None:
        try:
            fut.set_result(self.value_of(oid))
        except BaseException as exc:
            fut.set_exception(exc)

    # ------------------------------------------------------------------ requests
    def request(self, what: str, args: dict | None = None, timeout: float | None = 30.0) -> Any:
        req_id = next(self._req_ids)
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._requests[req_id] = fut
        self.send((protocol.REQUEST, req_id, what, args or {}))
        wait = timeout
        if threading.current_thread() is not self._io_thread:
            self.pump_until(fut.done, timeout)  # read the reply here, as get() does
            wait = 0
        try:
            ok, value = fut.result(wait)
        except concurrent.futures.TimeoutError:
            self._requests.pop(req_id, None)
            if self._dead_reason is not None:
                raise self._dead_error() from None
            raise exceptions.GetTimeoutError(
                f"The head did not answer {what!r} within {timeout} s."
            ) from None
        if not ok:
            raise _reply_error(value)
        return value

    def export_function(self, fn_id: str, blob: bytes) -> bytes | None:
        """The blob to attach to a submission, or None when the head already has it."""
        if fn_id in self._exported_fns:
            return None
        self._exported_fns.add(fn_id)
        return blob

    def subscribe(self, handler: Callable[[int, list, int], None], after_seq: int = -1) -> None:
        self._event_handlers.append(handler)
        self.send((protocol.SUBSCRIBE, after_seq))

    # ------------------------------------------------------------------ I/O thread
    def _io_loop(self) -> None:
        """Reads for everyone while no thread reads for itself.

        A thread waiting in get() reads for itself (no hand-off between threads on the way to
        its result), and the I/O thread steps aside. It takes over again lazily, at its next
        timed wake-up rather than the moment the reader leaves: a program that calls get() in a
        loop then never has two threads woken for one message and fighting over the GIL (that
        cost a third of a sync actor call). Only messages no one waits for (logs, events,
        futures) can wait that long; requests read for themselves too.
        """
        if self._early:
            self._dispatch(self._early)
            self._early = []
        while not self._closed:
            now = time.monotonic()
            if now >= self._next_purge:
                self._next_purge = now + 1.0
                object_store.purge_writer()  # kept write mappings of freed segments pin memory
            with self._reader_cond:
                stepped_aside = bool(self._active_readers)
                if stepped_aside:
                    self._reader_cond.wait(_FLUSH_INTERVAL)
                else:
                    self._io_polling = True
            if stepped_aside:
                self.flush()
                continue
            wait = self._wait_limit(_SUBMIT_FLUSH if self._submits_queued else _FLUSH_INTERVAL)
            try:
                readable = self._conn.wait_readable(wait, background=True)
            finally:
                self._io_polling = False
            if readable and not self._active_readers:
                if not self._read_and_dispatch():
                    return
                if self._active_readers:
                    self._conn.wake()  # a reader may have gone to poll after we took its data
            self._flush_due()

    def _pump(self, wait: float) -> bool:
        """Read and dispatch what arrives within `wait` s; False once the head is gone."""
        if not self._conn.wait_readable(wait):
            return True
        return self._read_and_dispatch()

    def _read_and_dispatch(self) -> bool:
        with self._read_lock, _sigint_shield:
            # Direct channels are read before the head and handled after it: see the ordering
            # rules in direct_calls.py.
            direct = self.direct.read_pass() if self.direct.channels or self.direct.listener else ()
            frames = self._conn.read_nowait()
            if frames is None:
                if not self._closed:
                    self._mark_dead("the cluster's head closed the connection (it exited)")
                return False
            for data in frames:
                try:
                    self._dispatch(protocol.loads(data))
                except Exception as exc:  # never let one bad message kill the reader
                    print(f"rayground: dropped a message from the head: {exc!r}", file=sys.stderr)
            if direct:
                try:
                    self.direct.dispatch(direct)
                except Exception as exc:
                    print(f"rayground: dropped a direct message: {exc!r}", file=sys.stderr)
        if self._active_readers > 1:
            self._conn.wake()  # another thread waits in poll: what it waits for may be here
        return True

    def pump_until(self, done: Callable[[], bool], timeout: float | None) -> bool:
        """Read and dispatch messages in this thread until `done()` or `timeout`; True if done."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._reader_cond:
            self._active_readers += 1
            if self._io_polling:
                self._conn.kick()  # the I/O thread is in poll: have it step aside
        try:
            while not done():
                if self._dead_reason is not None or self._closed:
                    return done()
                self._flush_due()
                wait = self._wait_limit(0.05)
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        return done()
                if not self._pump(wait):
                    return done()
            return True
        finally:
            with self._reader_cond:
                self._active_readers -= 1  # no notify: the I/O thread takes over lazily

    def _dispatch(self, batch: list[tuple]) -> None:
        arrived: list[str] = []
        for msg in batch:
            kind = msg[0]
            if kind == OBJ:
                oid = msg[1]
                if oid in self._local:
                    self._descs[oid] = msg[2]
                    arrived.append(oid)
                self._expected.discard(oid)
                self._wanted.discard(oid)
                self._direct.pop(oid, None)
            elif kind == protocol.EXECUTE or kind in _TO_WORKER:
                if self._on_execute is not None and not (
                    kind == protocol.EXECUTE and self.direct.hold(msg)
                ):
                    self._on_execute(msg)
            elif kind == ACTOR_AT:
                self.direct.on_actor_at(msg)
            elif kind == REPLY:
                fut = self._requests.pop(msg[1], None)
                if fut is not None:
                    fut.set_result((msg[2], msg[3]))
            elif kind == LOG:
                if self._on_log is not None:
                    self._on_log(msg[2])
            elif kind == protocol.EVENTS:
                for handler in list(self._event_handlers):
                    try:
                        handler(msg[1], msg[2], msg[3])
                    except Exception as exc:
                        print(f"rayground: event handler failed: {exc!r}", file=sys.stderr)
            elif kind == "warning":
                print(f"rayground: {msg[1]}", file=sys.stderr)
            elif kind == protocol.SHUTDOWN:
                self._mark_dead(msg[1])
            # unknown kinds are ignored (protocol compatibility rule)
        if arrived:
            with self._cond:
                waiters = self._waiters
                for oid in arrived:
                    for waiter in waiters.pop(oid, ()):
                        waiter.need -= 1
                        if waiter.need <= 0:
                            waiter.set()
                futs = [(o, self._futures.pop(o)) for o in arrived if o in self._futures]
            for oid, fs in futs:
                for fut in fs:
                    self._complete_future(fut, oid)

    def _mark_dead(self, reason: str) -> None:
        self._dead_reason = reason
        if self._on_dead is not None:
            self._on_dead(reason)
        with self._cond:
            for waiting in self._waiters.values():
                for waiter in waiting:
                    waiter.set()
            futs = list(self._futures.values())
            self._futures.clear()
        for fs in futs:
            for fut in fs:
                fut.set_exception(self._dead_error())
        for fut in list(self._requests.values()):
            fut.set_exception(self._dead_error())
        self._requests.clear()

    def _dead_error(self) -> exceptions.RaySystemError:
        return exceptions.RaySystemError(
            f"The rayground cluster is gone ({self._dead_reason}). Call rayground.shutdown() "
            "and rayground.init() to start a new one."
        )

    @property
    def alive(self) -> bool:
        return self._dead_reason is None and not self._closed

    # ------------------------------------------------------------------ teardown
    def close(self, goodbye: bool = True) -> None:
        if self._closed:
            return
        if goodbye and self._dead_reason is None:
            try:
                self.send((protocol.GOODBYE,))
            except Exception:
                pass
        self._closed = True
        with self._reader_cond:
            self._reader_cond.notify_all()  # an I/O thread that stepped aside: see the close
        _sigint_shield.uninstall()
        object_store.close_writer()
        self.direct.close()
        self._conn.close()  # wakes the I/O thread with end-of-stream
        if self._io_thread is not threading.current_thread():
            self._io_thread.join(timeout=2.0)


def _as_exception(err: Any) -> BaseException:
    if isinstance(err, BaseException):
        return err
    return exceptions.RaySystemError(f"a task failed with a non-exception value: {err!r}")


def _reply_error(value: Any) -> BaseException:
    """Head replies carry errors as (exception class name, message)."""
    if isinstance(value, tuple) and len(value) == 2:
        name, message = value
        cls = getattr(exceptions, name, None) or {"ValueError": ValueError}.get(name)
        if cls is None:
            cls = exceptions.RaySystemError
        try:
            return cls(message)
        except TypeError:
            return exceptions.RaySystemError(message)
    return exceptions.RaySystemError(str(value))
