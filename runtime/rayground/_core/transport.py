"""Stream sockets with length-prefixed frames: Unix sockets on one machine, TCP between machines.

Why not ZeroMQ: measured here, a ZeroMQ DEALER/ROUTER round trip over ipc costs ~150 us (two hops
through its I/O threads per direction) against ~28 us for a Unix socket read and written directly
by the threads that need it; a task's life crosses four hops, so that difference decides how many
tasks per second the runtime can do.

A frame is `u32 length (little endian) | payload`. `length` above `config.MAX_FRAME` is refused
before anything is allocated. Addresses: `ipc:///path/to/sock` or `tcp://host:port` (also plain
`host:port`).
"""

from __future__ import annotations

import math
import mmap
import os
import resource
import select
import socket
import stat
import struct
import threading
import time

from . import config, tls

_LEN = struct.Struct("<I")


class FrameError(ConnectionError):
    """The peer sent something that is not a frame (too long, or the stream was cut)."""


def parse_address(address: str) -> tuple[int, str | tuple[str, int]]:
    address = tls.split_pin(address)[0]  # a TLS server's certificate pin is not the address
    if address.startswith("ipc://"):
        return socket.AF_UNIX, address[len("ipc://") :]
    if address.startswith("tcp://"):
        address = address[len("tcp://") :]
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(
            f"address {address!r} is not 'host:port'; give e.g. '127.0.0.1:6380' or 'auto'"
        )
    return socket.AF_INET6 if ":" in host else socket.AF_INET, (host.strip("[]"), int(port))


def normalize_address(address: str) -> str:
    """'host:port' -> 'tcp://host:port'; ipc:// and tcp:// pass through."""
    if address.startswith(("ipc://", "tcp://")):
        return address
    parse_address(address)
    return f"tcp://{address}"


def connect(address: str, timeout: float, pin: str | None = None) -> socket.socket:
    """A connected socket. Over TCP with a certificate pin (in the address, `#sha256:...`, or
    given: a TLS cluster's token carries its head's), the bytes travel over TLS (tls.py)."""
    pin = tls.split_pin(address)[1] or pin
    family, target = parse_address(address)
    if pin is not None and isinstance(target, tuple):
        return tls.connect(target[0], target[1], pin, timeout)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(target)
    except OSError:
        sock.close()
        raise
    _tune(sock)
    return sock


def listen(address: str) -> tuple[socket.socket, str]:
    """Bind and listen; returns the socket and the address it really has (port 0 -> chosen)."""
    family, target = parse_address(address)
    sock = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_UNIX:
        assert isinstance(target, str)
        if os.path.exists(target):
            os.unlink(target)
        sock.bind(target)
        os.chmod(target, stat.S_IRUSR | stat.S_IWUSR)  # only the owner may connect at all
        bound = f"ipc://{target}"
    else:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(target)
        host, port = sock.getsockname()[:2]
        bound = f"tcp://{host}:{port}"
    sock.listen(128)
    sock.setblocking(False)
    return sock, bound


def _tune(sock: socket.socket) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class FrameSocket:
    """A blocking connection used by one reader thread and any number of (locked) senders."""

    def __init__(self, sock: socket.socket) -> None:
        # Blocking, no timeout: senders must never give up halfway through a frame. The reader
        # waits in poll() instead, so its deadline never applies to a send.
        sock.settimeout(None)
        self.sock = sock
        self._send_lock = threading.Lock()
        self._buf = bytearray()
        self._scratch = receive_buffer()
        self.max_frame = config.MAX_FRAME  # lowered while a peer has not authenticated
        # Pipes any thread can write to, to cut another thread's poll short: one for threads
        # reading for themselves, one for the background reader (see `wait_readable`).
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._kick_r, self._kick_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._polls = threading.local()  # poll objects must not be shared between threads
        # More descriptors to wait on with this connection (direct_calls.py: a worker's listener
        # and its callers' connections, a caller's connections to actors); a reader handles them.
        self.extra_fds: tuple[int, ...] = ()

    def wake(self) -> None:
        """Cut short the poll of threads waiting with background=False."""
        _poke(self._wake_w)

    def kick(self) -> None:
        """Cut short the poll of the thread waiting with background=True."""
        _poke(self._kick_w)

    def send(self, payload: bytes) -> None:
        with self._send_lock:
            self.sock.sendall(_LEN.pack(len(payload)) + payload)

    def wait_readable(self, wait: float | None, background: bool = False) -> bool:
        """Block until data (or end-of-stream) may be read, or `wait` seconds pass, or wake()
        (kick() for the one background reader, which has its own pipe so that a wake meant for
        one kind of waiter is never eaten by the other)."""
        polls = self._polls
        if self._complete_frame_buffered():
            polls.ready = ()
            return True
        poller = getattr(polls, "poller", None)
        if poller is None:
            poller = polls.poller = select.poll()
            polls.wake_fd = self._kick_r if background else self._wake_r
            polls.extra = ()
            poller.register(self.sock.fileno(), select.POLLIN)
            poller.register(polls.wake_fd, select.POLLIN)
        extra = self.extra_fds
        if polls.extra is not extra:
            for fd in polls.extra:
                try:
                    poller.unregister(fd)
                except (KeyError, ValueError):
                    pass
            for fd in extra:
                poller.register(fd, select.POLLIN)
            polls.extra = extra
        wake_fd = polls.wake_fd
        try:
            events = poller.poll(None if wait is None else math.ceil(wait * 1000))
        except (OSError, ValueError):
            polls.ready = extra  # let the reads report the problem
            return True
        readable = False
        polls.ready = [fd for fd, _ in events]
        for fd, _ in events:
            if fd == wake_fd:
                try:
                    os.read(wake_fd, 4096)
                except OSError:
                    pass
            else:
                readable = True
        return readable

    def ready_fds(self) -> tuple[int, ...] | list[int]:
        """The descriptors this thread's latest `wait_readable` found readable."""
        return getattr(self._polls, "ready", ())

    def read_nowait(self, limit: int | None = None) -> list[bytes] | None:
        """Whole frames available now ([] if none; at most `limit`, the rest stay buffered); None
        when the peer closed the connection.

        Callers serialise this with their own lock and dispatch the frames before releasing it,
        so frames are handled in the order they were sent whichever thread reads them.
        """
        scratch = self._scratch
        while True:
            try:
                n = self.sock.recv_into(scratch, RECV_SIZE, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return None
            if not n:
                if self._complete_frame_buffered():
                    break  # hand out what we have; the close is seen on the next read
                return None
            self._buf += scratch[:n]
            if n < RECV_SIZE:
                break
        return self._split(limit)

    def recv_one(self, timeout: float) -> bytes | None:
        """One whole frame (for the handshake), or None on timeout/close."""
        deadline = time.monotonic() + timeout
        while not self._complete_frame_buffered():
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    return None
                if not self.wait_readable(remaining):
                    continue
                chunk = self.sock.recv(1 << 16)
            except OSError:
                return None
            if not chunk:
                return None
            self._buf += chunk
        frames = self._split(limit=1)
        return frames[0] if frames else None

    def _complete_frame_buffered(self) -> bool:
        buf = self._buf
        if len(buf) < 4:
            return False
        length = _LEN.unpack_from(buf, 0)[0]
        # An oversized frame counts as complete: splitting it raises FrameError at once, instead
        # of buffering up to its announced length first.
        return len(buf) >= 4 + length or length > self.max_frame

    def _split(self, limit: int | None = None) -> list[bytes]:
        frames, pos = split_frames(self._buf, limit, self.max_frame)
        del self._buf[:pos]
        return frames

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for fd in (self._wake_r, self._wake_w, self._kick_r, self._kick_w):
            try:
                os.close(fd)
            except OSError:
                pass


RECV_SIZE = 1 << 20


def receive_buffer() -> memoryview:
    """A reusable buffer to receive into: a fresh 1 MiB bytes object per recv costs an mmap, an
    mremap and a munmap (glibc hands allocations that large to the kernel), three system calls
    per message. An anonymous mapping, not a bytearray: its pages become resident only as large
    messages first reach them, so an idle process pays for a few KiB, not the whole MiB."""
    return memoryview(mmap.mmap(-1, RECV_SIZE))


def receive_into(sock: socket.socket, rbuf: bytearray, scratch: memoryview) -> int | None:
    """Append what a non-blocking socket has to `rbuf`, through `scratch` (see receive_buffer):
    the number of bytes, 0 once the peer closed or the connection broke, None if nothing yet."""
    try:
        n = sock.recv_into(scratch, RECV_SIZE)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return 0
    rbuf += scratch[:n]
    return n


def _poke(fd: int) -> None:
    try:
        os.write(fd, b"x")
    except (BlockingIOError, OSError):
        pass  # already pending, or closed


def split_frames(
    buf: bytearray, limit: int | None = None, max_len: int = config.MAX_FRAME
) -> tuple[list[bytes], int]:
    """Complete frames at the start of `buf` and how many bytes they used."""
    frames = []
    pos = 0
    end = len(buf)
    while end - pos >= 4:
        (length,) = _LEN.unpack_from(buf, pos)
        if length > max_len:
            raise FrameError(f"frame of {length} bytes is over the {max_len} limit")
        if end - pos - 4 < length:
            break
        frames.append(bytes(buf[pos + 4 : pos + 4 + length]))
        pos += 4 + length
        if limit is not None and len(frames) >= limit:
            break
    return frames, pos


def frame(payload: bytes) -> bytes:
    return _LEN.pack(len(payload)) + payload


def recv_frame(sock: socket.socket, max_len: int, deadline: float) -> bytes | None:
    """One frame from a blocking socket, reading nothing past its end (what follows stays in the
    socket for its next reader). None if the peer closed or `deadline` (time.monotonic) passed;
    FrameError, before anything is buffered, if it is longer than `max_len`."""
    header = _recv_exactly(sock, 4, deadline)
    if header is None:
        return None
    (length,) = _LEN.unpack(header)
    if length > max_len:
        raise FrameError(f"frame of {length} bytes is over the {max_len} limit")
    return _recv_exactly(sock, length, deadline)


def _recv_exactly(sock: socket.socket, n: int, deadline: float) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        # Security: one deadline for the whole frame, so a peer trickling a byte at a time
        # cannot hold the reader longer than that.
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(n - len(buf))
        except (TimeoutError, OSError):
            return None
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def raise_fd_limit() -> None:
    """Raise the soft limit on open descriptors to the hard one, as Ray does at start: the
    common soft limit of 1024 is what a few hundred silent connections and a busy cluster's own
    sockets exhaust first."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            # Some kernels refuse an infinite soft limit: 2**20 is fs.nr_open's default.
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        pass  # keep the limit we have


def write_token_file(path: str, token: bytes) -> None:
    # Security: the token file is created owner-only (0600) before any byte is written.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "wb") as f:
        f.write(token)


def read_token_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read().strip()
