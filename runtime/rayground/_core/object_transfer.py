"""Moving a sealed object from the node that holds it to the node that needs it.

    reader on node B                      object server of node A (a thread in A's head/node)
      HELLO(token) ----------------------->  token checked before anything else is read
      name (utf-8) ----------------------->  looked up in A's shared memory, then A's spill dir
      <------------------------ size (8 bytes, -1 if absent), then the bytes in chunks (sendfile)
    writes into B's shared memory under a temporary name, renames it into place, tells the head
    (COPIED) so the copy is freed with the object.

The reader pulls (not the head): the head's loop never waits on a transfer, the sender streams
from its own thread with sendfile (no Python copy, no GIL held while the kernel copies), and two
transfers of different objects run side by side. Names are object ids: plain file names, never
paths, so a peer cannot ask for a file outside the store.
"""

from __future__ import annotations

import os
import socket
import struct
import threading

from . import protocol
from .transport import connect, listen

CHUNK = 8 << 20  # bytes per sendfile call: large enough to stream, small enough to interleave
_SIZE = struct.Struct("<q")


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

    def __init__(self, ip: str, token: bytes, dirs: list[str]) -> None:
        self._token = token
        self._dirs = dirs
        self._sock, self.address = listen(f"tcp://{ip}:0")
        self._sock.setblocking(True)
        self._closed = False
        threading.Thread(target=self._accept_loop, name="object-server", daemon=True).start()

    def close(self) -> None:
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(30)
                hello = _recv_exact(conn, _SIZE.unpack(_recv_exact(conn, 8))[0])
                # Security: the token is checked before the request is even read.
                protocol.check_hello(hello, self._token)
                length = _SIZE.unpack(_recv_exact(conn, 8))[0]
                if not 0 < length <= 4096:
                    return
                name = _recv_exact(conn, length).decode()
                path = self._find(name) if _safe_name(name) else None
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
            except (OSError, ValueError, struct.error, protocol.ProtocolError):
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
    sock = connect(address, timeout)
    tmp = f"{dest}.part-{os.getpid()}-{threading.get_ident()}"
    try:
        sock.settimeout(timeout)
        hello = protocol.hello_frame(token, {"role": "object-pull"})
        request = name.encode()
        sock.sendall(_SIZE.pack(len(hello)) + hello + _SIZE.pack(len(request)) + request)
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
