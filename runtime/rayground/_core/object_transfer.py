"""Moving a sealed object from the node that holds it to the node that needs it.

    reader on node B                      object server of node A (a thread in A's head/node)
      handshake (handshake.py) <---------->  both prove they hold the token; nothing else is
                                             read before the reader has
      name (a frame, utf-8) -------------->  looked up in A's shared memory, then A's spill dir
      <------------------------ size (8 bytes, -1 if absent), then the bytes in chunks (sendfile)
    writes into B's shared memory under a temporary name, renames it into place, tells the head
    (COPIED) so the copy is freed with the object.

The reader pulls (not the head): the head's loop never waits on a transfer, the sender streams
from its own thread with sendfile (no Python copy, no GIL held while the kernel copies), and two
transfers of different objects run side by side. Names are object ids: plain file names, never
paths, so a peer cannot ask for a file outside the store.

Limits before authentication: at most `config.OBJECT_SERVER_THREADS` connections are served at
once (one more is closed at once); the handshake and the request must arrive within
`config.HELLO_TIMEOUT`; every frame before the name has the handshake's fixed sizes and the name
is at most 4 KiB. An accept() that fails (out of descriptors) waits a moment and goes on.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import threading
import time

from . import config, handshake, tls
from .transport import FrameError, connect, frame, listen, recv_frame

CHUNK = 8 << 20  # bytes per sendfile call: large enough to stream, small enough to interleave
_SIZE = struct.Struct("<q")
_NAME_MAX = 4096
_ACCEPT_BACKOFF = 0.1  # seconds to wait after accept() ran out of descriptors


def _safe_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\0" not in name and name not in (".", "..")


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the object server closed the connection early")
        buf += chunk
    return bytes(buf)


class ObjectServer:
    """Serves this node's sealed objects to other nodes, one thread per transfer."""

    def __init__(
        self, ip: str, token: bytes, dirs: list[str], tls_cert: tls.Certificate | None = None
    ) -> None:
        self._token = token
        self._dirs = dirs
        self._tls: tls.TlsListener | None = None
        public, self.address = listen(f"tcp://{ip}:0")
        if tls_cert is None:
            self._sock = public
        else:
            # TLS: the public port is the pump's; this server listens next to the certificate
            # (an owner-only directory) and its address names the certificate's fingerprint.
            inner = os.path.join(os.path.dirname(tls_cert.cert_file), "objects.sock")
            self._sock, _ = listen(f"ipc://{inner}")
            self._tls = tls.TlsListener(public, inner, tls_cert)
            self.address += tls.PIN_MARK + tls_cert.fingerprint
        self._sock.setblocking(True)
        self._closed = False
        self._slots = threading.BoundedSemaphore(config.OBJECT_SERVER_THREADS)
        threading.Thread(target=self._accept_loop, name="object-server", daemon=True).start()

    def close(self) -> None:
        self._closed = True
        if self._tls is not None:
            self._tls.close()
        try:
            # shutdown wakes the accept() blocked in the server's thread (close alone may not).
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError as exc:
                if self._closed or exc.errno in (errno.EBADF, errno.EINVAL):
                    return  # closed
                # Out of descriptors or memory, or a connection aborted: never fatal.
                time.sleep(_ACCEPT_BACKOFF)
                continue
            # Security: a bounded number of transfers at once, so connections that never
            # authenticate cannot make the server start threads without end.
            if not self._slots.acquire(blocking=False):
                conn.close()
                continue
            try:
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
            except RuntimeError:  # cannot start a thread now
                self._slots.release()
                conn.close()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                self._transfer(conn)
        finally:
            self._slots.release()

    def _transfer(self, conn: socket.socket) -> None:
        deadline = time.monotonic() + config.HELLO_TIMEOUT
        try:
            # Security: the peer proves it holds the token before its request is even read.
            handshake.serve_over_socket(conn, self._token, deadline)
            request = recv_frame(conn, _NAME_MAX, deadline)
            if request is None:
                return
            name = request.decode()
            path = self._find(name) if _safe_name(name) else None
            conn.settimeout(30)
            if path is None:
                conn.sendall(_SIZE.pack(-1))
                return
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                conn.sendall(_SIZE.pack(size))
                conn.settimeout(None)
                offset = 0
                while offset < size:
                    sent = os.sendfile(conn.fileno(), f.fileno(), offset, CHUNK)
                    if sent == 0:
                        break
                    offset += sent
        except (OSError, ValueError, FrameError, handshake.HandshakeError):
            return  # a bad or vanished peer costs this thread only

    def _find(self, name: str) -> str | None:
        for d in self._dirs:
            path = os.path.join(d, name)
            if os.path.isfile(path):
                return path
        return None


def pull(address: str, token: bytes, name: str, dest: str, timeout: float = 60.0) -> int:
    """Copy object `name` from the object server at `address` to the file `dest` (atomically);
    returns its size. FileNotFoundError if that server no longer has it."""
    sock = connect(address, timeout)  # over TLS where the address pins a certificate
    tmp = f"{dest}.part-{os.getpid()}-{threading.get_ident()}"
    try:
        try:
            handshake.peer_over_socket(sock, token, {"role": "object-pull"}, timeout)
        except handshake.HandshakeError as exc:
            raise ConnectionError(f"the object server at {address} refused: {exc}") from None
        sock.settimeout(timeout)
        sock.sendall(frame(name.encode()))
        size = _SIZE.unpack(_recv_exact(sock, 8))[0]
        if size < 0:
            raise FileNotFoundError(f"object {name} is not at {address} any more")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            if size:
                os.posix_fallocate(fd, 0, size)  # ENOSPC now, not SIGBUS when mapped later
            view = memoryview(bytearray(min(CHUNK, max(size, 1))))
            done = 0
            while done < size:
                n = sock.recv_into(view, min(len(view), size - done))
                if not n:
                    raise ConnectionError(f"transfer of {name} from {address} was cut short")
                os.pwrite(fd, view[:n], done)
                done += n
        finally:
            os.close(fd)
        os.rename(tmp, dest)
        return size
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    finally:
        sock.close()
