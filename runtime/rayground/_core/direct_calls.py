"""Direct actor calls: a caller sends calls straight to a sync actor's worker, which sends the
results straight back, so a call costs two hops instead of four through the head (as in Ray,
where callers talk to actors directly).

    caller --SUBMIT (registration)--> head            (refcounts, state, retries: as before)
    caller ==("call", spec)==========> actor worker   (its own socket: a*.sock in the session)
    caller <=(OBJ, oid, desc)========= actor worker
           head <--DONE-- actor worker                 (off the critical path, batched when busy)

The head still hears of every call (in the caller's ordered stream, so reference counts stay
exact) and of every end; it just is not on the way. Only what the head decides goes through it:
errors, retries, cancellation and deaths (the head pushes the outcome to the caller, which also
asks the head for every result still owed when a direct connection ends).

Ordering (one caller's calls run in submission order):
  * head path, then direct: a caller starts sending directly only once the head has told it
    (`actor_at`, written only after the worker's copy of the call has been written) that all
    its calls to the actor have left the head. A worker reads its callers' sockets *before* the
    head's in each pass and handles the head's frames first, so a call the head wrote before the
    notice is always ahead of a direct call sent after it.
  * direct, then head path (a call with ref arguments goes through the head): the call carries
    how many direct calls came before it (`after_direct`), and the worker holds it until that
    many have arrived from that caller (or that caller's connection ends).

Eligible: sync actors that run one call at a time, callers on the same machine, calls without
refs in their arguments and without generators; a result that holds refs goes through the head.
`RAYGROUND_DIRECT_CALLS=0` turns the path off.
"""

from __future__ import annotations

import collections
import os
import pickle
import select
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from . import config, handshake, protocol
from .transport import FrameError, FrameSocket, connect, listen

if TYPE_CHECKING:
    from .client import CoreClient

ACTOR_AT = "actor_at"  # head -> caller: (ACTOR_AT, actor_id, address, worker_id, calls_left)
CALL = "call"  # caller -> actor worker: (CALL, spec)
_ENDED_CALLERS_MAX = 4096
_HELLO_TIMEOUT = 10.0  # an accepted connection must finish the handshake within this
_ANSWER_WAIT_MS = 500  # how long a caller waits in line for the worker's handshake answer
_MAX_PATH = 100  # Unix socket paths are limited to 108 bytes


def enabled() -> bool:
    return os.environ.get("RAYGROUND_DIRECT_CALLS", "1") != "0"


def eligible_call(spec: dict[str, Any]) -> bool:
    # Refs inside the arguments must reach the head (registration) before the worker can
    # borrow them, so such calls take the head path; so do results that hold refs (the worker
    # sends those to the head, which pushes them).
    return (
        bool(spec["returns"])
        and not spec.get("deps")
        and not spec.get("contained")
        and not spec.get("generator")
    )


class Channel:
    """One direct connection: a caller's to an actor's worker, or the worker's end of it."""

    __slots__ = (
        "accepted_at",
        "caller",
        "conn",
        "hs",
        "incoming",
        "outbox",
        "received",
        "route",
        "worker_id",
    )

    def __init__(
        self,
        conn: FrameSocket,
        hs: handshake.ServerHandshake | handshake.PeerHandshake,
        worker_id: str | None = None,
        route: Route | None = None,
    ) -> None:
        self.conn = conn
        # A process can be both ends: an actor that calls other actors.
        self.incoming = worker_id is None  # accepted from a caller (this is the actor)
        self.worker_id = worker_id  # caller side: the worker it reaches
        self.route = route  # caller side: whose channel it becomes once the handshake is over
        self.caller: str | None = None  # worker side: the caller's client id, once it proved
        self.received = 0  # worker side: calls that arrived on it
        self.outbox: collections.deque = collections.deque()
        self.accepted_at = time.monotonic()
        # The handshake (handshake.py), None once it is over. Until then a caller's calls keep
        # going through the head, and frames are capped at the handshake's sizes.
        self.hs: handshake.ServerHandshake | handshake.PeerHandshake | None = hs
        conn.max_frame = (
            hs.max_frame()
            if isinstance(hs, handshake.ServerHandshake)
            else handshake.ANSWER_LEN + 1000
        )


class Route:
    """A caller's way to one actor: through the head, or over a channel to its worker."""

    __slots__ = ("address", "channel", "direct_sent", "head_left", "head_sent", "pending")

    def __init__(self) -> None:
        self.head_sent = 0  # calls this process sent through the head
        self.head_left = 0  # of those, how many the head has forwarded or dropped
        self.direct_sent = 0  # calls sent on the current channel
        self.channel: Channel | None = None
        self.pending: Channel | None = None  # a channel still in its handshake
        self.address: str | None = None  # the worker address last tried


class DirectCalls:
    """Both ends of direct calls for one CoreClient. All reading happens under the client's read
    lock (in `read_pass`); sending under its send lock (`flush`)."""

    def __init__(self, client: CoreClient, token: bytes, worker_id: str | None) -> None:
        self.client = client
        self.token = token
        self.worker_id = worker_id
        self.routes: dict[str, Route] = {}
        self.channels: list[Channel] = []
        self.listener: socket.socket | None = None
        self.address: str | None = None
        self.callers: dict[str, Channel] = {}  # worker side: caller's client id -> its channel
        # Worker side: callers whose connection ended, newest last (bounded: a call held for
        # one would have had to wait behind thousands of other callers' departures).
        self.ended: dict[str, None] = {}
        self.held: dict[str, list[tuple]] = {}  # worker side: head-path calls waiting (see top)
        self.dirty = False  # a channel has messages to send
        # Caller side: deciding a call's route and losing a channel exclude each other, so a
        # call is either registered before the channel's results are asked of the head, or sent
        # through the head.
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ caller side
    def route_call(self, spec: dict[str, Any]) -> Channel | None:
        """Queue `spec` on its actor's channel when it may go directly (the caller still
        registers it with the head) and return the channel; None when it must go through the
        head. Called with `lock` held."""
        route = self.routes.get(spec["actor_id"])
        if route is None:
            route = self.routes[spec["actor_id"]] = Route()
        channel = route.channel
        if channel is not None and route.head_left >= route.head_sent and eligible_call(spec):
            spec["direct_worker"] = channel.worker_id
            spec["sent_at"] = time.time()  # the head hears of it later: its record uses this
            route.direct_sent += 1
            channel.outbox.append((CALL, spec))
            self.dirty = True
            return channel
        route.head_sent += 1
        if channel is not None and route.direct_sent:
            spec["after_direct"] = (channel.worker_id, route.direct_sent)
            spec["caller"] = self.client.client_id
        return None

    def stop_direct(self, actor_id: str) -> None:
        """This process killed the actor: its later calls go through the head, which has the
        kill first (a direct call could still reach the worker before it dies). Calls already
        sent directly still get their results, or their error, on the channel's end. The route
        keeps the worker's address, so the head's notices for it do not reconnect; a restarted
        actor's new worker does."""
        with self.lock:
            route = self.routes.get(actor_id)
            if route is not None:
                route.channel = route.pending = None

    def on_actor_at(self, msg: tuple) -> None:
        """The head forwarded our calls to the actor's worker at `address` (None: not direct)."""
        _, actor_id, address, worker_id, left = msg[:5]
        route = self.routes.get(actor_id)
        if route is None:
            route = self.routes[actor_id] = Route()
        route.head_left = max(route.head_left, int(left))
        if not address or not enabled() or address == route.address:
            return
        route.address = address
        for old in (route.channel, route.pending):
            if old is not None:
                self._lost(old)
        try:
            conn = FrameSocket(connect(address, 2.0))
        except (OSError, ValueError):
            return  # stay on the head path
        hs = handshake.PeerHandshake(self.token)
        try:
            conn.send(hs.challenge())
        except OSError:
            conn.close()
            return
        channel = route.pending = Channel(conn, hs, worker_id, route)
        self._add(channel)
        # The worker's I/O thread answers within a round trip even while it runs a call, so
        # wait that long for the answer (the next calls can then go directly); past that the
        # handshake finishes whenever the answer comes, and calls go through the head meanwhile.
        poller = select.poll()
        poller.register(conn.sock.fileno(), select.POLLIN)
        if poller.poll(_ANSWER_WAIT_MS):
            self._handshake(channel)

    def flush(self) -> None:
        """Send every channel's queued messages (the client's send lock is held)."""
        self.dirty = False
        for channel in list(self.channels):
            outbox = channel.outbox
            if not outbox:
                continue
            batch = list(outbox)
            outbox.clear()
            try:
                channel.conn.send(protocol.dumps(batch))
            except OSError:
                self._lost(channel)

    # ------------------------------------------------------------------ worker side
    def serve(self, directory: str) -> str | None:
        """Listen for callers (an eligible actor's worker); returns the address, or None."""
        if not enabled() or self.worker_id is None:
            return None
        path = os.path.join(directory, f"a-{self.worker_id}.sock")
        if len(path) > _MAX_PATH:
            return None
        try:
            self.listener, self.address = listen(f"ipc://{path}")
        except OSError:
            return None
        self._update_fds()
        return self.address

    def reply(self, channel: Channel, messages: list[tuple]) -> None:
        channel.outbox.extend(messages)
        self.dirty = True

    def hold(self, msg: tuple) -> bool:
        """Whether a head-path call must wait for direct calls its caller sent before it."""
        after = msg[1].get("after_direct")
        if type(after) not in (tuple, list) or len(after) != 2 or after[0] != self.worker_id:
            return False
        caller = msg[1].get("caller") or ""
        channel = self.callers.get(caller)
        if caller in self.ended or (channel is not None and channel.received >= after[1]):
            return False
        self.held.setdefault(caller, []).append(msg)
        return True

    # ------------------------------------------------------------------ reading
    def read_pass(self) -> list[tuple[Channel, list[bytes]]]:
        """Accept callers and read the channels found readable (before the head's socket is
        read: see the ordering rules at the top)."""
        ready = self.client._conn.ready_fds()
        if self.listener is not None and self.listener.fileno() in ready:
            self._accept()
        got = []
        for channel in list(self.channels):
            if channel.conn.sock.fileno() not in ready:
                if channel.hs is not None:
                    if time.monotonic() - channel.accepted_at > _HELLO_TIMEOUT:
                        self._lost(channel)
                continue
            if channel.hs is not None and not self._handshake(channel):
                continue  # still in its handshake, or dropped
            try:
                frames = channel.conn.read_nowait()
            except FrameError:  # over the size a handshake frame may have, or the limit
                frames = None
            if frames is None:
                self._lost(channel)
            elif frames:
                got.append((channel, frames))
        return got

    def dispatch(self, got: list[tuple[Channel, list[bytes]]]) -> None:
        """Handle what read_pass read (after the head's frames of the same pass)."""
        client = self.client
        for channel, frames in got:
            for data in frames:
                try:
                    # Both ends proved they hold the cluster's token (the handshake), and they
                    # exchange pickled user data anyway: plain pickle.
                    batch = pickle.loads(data)
                except Exception:
                    continue
                if not channel.incoming:
                    client._dispatch(batch)  # results from the actor's worker
                    continue
                for msg in batch:
                    if msg[0] == CALL:
                        self._on_call(channel, msg[1])

    def _handshake(self, channel: Channel) -> bool:
        """Advance `channel`'s handshake with the frames that arrived, one at a time (each is
        checked against the size its step allows before the next is looked at); True once it
        is over, False while it goes on or when the channel was dropped."""
        conn = channel.conn
        try:
            while True:
                hs = channel.hs
                frames = conn.read_nowait(limit=1)
                if frames is None:
                    raise ConnectionError("closed during the handshake")
                if not frames:
                    return False
                if isinstance(hs, handshake.ServerHandshake):  # this is the actor's worker
                    reply, info = hs.receive(frames[0])
                    if reply is not None:
                        conn.send(reply)
                    conn.max_frame = hs.max_frame()
                    if info is None:
                        continue
                    channel.caller = str(info.get("client_id"))
                    self.callers[channel.caller] = channel
                    break
                # This is the caller: the worker proved it holds the token.
                assert hs is not None
                info = {"client_id": self.client.client_id, "pid": os.getpid()}
                proof, payload = hs.answer(frames[0], info)
                conn.send(proof)
                conn.send(payload)
                with self.lock:
                    route = channel.route
                    if route is None or route.pending is not channel:
                        raise handshake.HandshakeError("the route moved on meanwhile")
                    route.pending = None
                    route.channel = channel
                    route.direct_sent = 0
                break
        except (protocol.ProtocolError, OSError):  # FrameError is an OSError
            self._lost(channel)
            return False
        channel.hs = None
        conn.max_frame = config.MAX_FRAME
        return True

    def _on_call(self, channel: Channel, spec: dict[str, Any]) -> None:
        caller = channel.caller or ""
        channel.received += 1
        spec["_reply"] = channel
        self.client._on_execute(  # type: ignore[misc]
            (protocol.EXECUTE, spec, None, {}, None)
        )
        held = self.held.get(caller)
        if held:
            self._release(caller, channel.received)

    def _release(self, caller: str, received: int | None) -> None:
        held = self.held.pop(caller, [])
        keep = []
        for msg in held:
            if received is None or received >= msg[1]["after_direct"][1]:
                self.client._on_execute(msg)  # type: ignore[misc]
            else:
                keep.append(msg)
        if keep:
            self.held[caller] = keep

    # ------------------------------------------------------------------ connections
    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self._add(Channel(FrameSocket(sock), handshake.ServerHandshake(self.token)))

    def _add(self, channel: Channel) -> None:
        self.channels.append(channel)
        self._update_fds()

    def _lost(self, channel: Channel) -> None:
        """A connection ended: a caller asks the head for results it still waited for on it;
        a worker lets go of calls held for it."""
        if channel not in self.channels:
            return
        self.channels.remove(channel)
        self._update_fds()
        channel.conn.close()
        if not channel.incoming:
            with self.lock:
                for route in self.routes.values():
                    if route.channel is channel:
                        route.channel = None
                    if route.pending is channel:
                        route.pending = None
                self.client._direct_channel_lost(channel)
        elif channel.caller is not None:
            self.ended[channel.caller] = None
            if len(self.ended) > _ENDED_CALLERS_MAX:
                del self.ended[next(iter(self.ended))]
            self.callers.pop(channel.caller, None)
            if channel.caller in self.held:
                self._release(channel.caller, None)

    def _update_fds(self) -> None:
        fds = [c.conn.sock.fileno() for c in self.channels]
        if self.listener is not None:
            fds.append(self.listener.fileno())
        self.client._conn.extra_fds = tuple(fds)

    def close(self) -> None:
        for channel in list(self.channels):
            channel.conn.close()
        self.channels.clear()
        if self.listener is not None:
            try:
                self.listener.close()
                if self.address:
                    os.unlink(self.address[len("ipc://") :])
            except OSError:
                pass
            self.listener = None
