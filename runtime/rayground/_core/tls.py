"""TLS for clusters that span machines (`rayground start --head --tls`).

Without it, a cluster's TCP traffic (task arguments, results, objects moving between nodes) is
plain text: the handshake (handshake.py) proves both ends hold the token, but anyone on the path
can read the rest. On one machine everything goes over Unix sockets and shared memory, which
never leave the kernel, so loopback-only clusters need no TLS.

    driver / node / worker (another machine)            head or node, this machine
      connect(addr, pin) -> a socketpair end              TlsListener on tcp://ip:port
         |  socketpair                                        |  TLS (certificate made at start)
      pump thread (asyncio) === TLS, fingerprint pinned ===> pump thread (asyncio)
                                                              |  Unix socket in the session dir
                                                           the head's (or object server's)
                                                           own listener, unchanged

The certificate is self-signed and made at start; its SHA-256 fingerprint is pinned instead of
trusting a CA: the head's goes into the token (`<secret>#sha256:<hex>`), so whoever holds the
token knows which certificate to expect, and a node's object server (its own certificate) names
its fingerprint in its address (`tcp://ip:port#sha256:<hex>`), which the head hands out only over
an authenticated connection. A peer whose certificate does not match is dropped before a byte of
ours is sent. The rayground handshake then runs inside the encrypted stream, unchanged.

Why a pump beside the existing listeners instead of TLS inside them: the head's loop and the
frame readers use non-blocking sockets, `recv_into` with flags and readiness from `select`, none
of which an `ssl.SSLSocket` supports as a plain socket does; a pump keeps the fast local paths
untouched and TLS in one module. Its cost (one more copy per byte) is paid only between machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import hmac
import os
import socket
import ssl
import stat
import threading
from dataclasses import dataclass

from . import config

PIN_MARK = "#sha256:"
_CHUNK = 1 << 18
_MAX_TLS_CONNECTIONS = 1024  # open TLS connections one listener serves at once


@dataclass(frozen=True)
class Certificate:
    cert_file: str
    key_file: str
    fingerprint: str  # SHA-256 of the DER certificate, lowercase hex


def split_pin(text: str) -> tuple[str, str | None]:
    """`'x#sha256:<hex>'` -> `('x', '<hex>')`; text without a pin -> `(text, None)`."""
    base, mark, pin = text.partition(PIN_MARK)
    if not mark:
        return text, None
    pin = pin.strip().lower()
    if len(pin) != 64 or any(c not in "0123456789abcdef" for c in pin):
        raise ValueError(
            f"the certificate fingerprint after {PIN_MARK!r} must be 64 hex digits, got {pin!r}; "
            "copy the whole token file (or address) again"
        )
    return base, pin


def token_pin(token: bytes) -> str | None:
    """The head certificate's fingerprint a TLS cluster's token carries, else None."""
    return split_pin(token.decode("ascii", "replace"))[1]


def make_certificate(directory: str, name: str = "tls") -> Certificate:
    """A fresh self-signed certificate and key in `directory` (owner-only files)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise RuntimeError(
            "TLS needs the 'cryptography' package to make its certificate: pip install "
            "'rayground[tls]' (or start the cluster without --tls)"
        ) from None
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rayground")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    cert_file = os.path.join(directory, f"{name}.crt")
    key_file = os.path.join(directory, f"{name}.key")
    _write_private(
        key_file,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write_private(cert_file, cert.public_bytes(serialization.Encoding.PEM))
    der = cert.public_bytes(serialization.Encoding.DER)
    return Certificate(cert_file, key_file, hashlib.sha256(der).hexdigest())


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, stat.S_IRUSR)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------- the pump thread
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
_loop_lock = threading.Lock()
_pumps: set[asyncio.Future[None]] = set()


def _event_loop() -> asyncio.AbstractEventLoop:
    """This process's TLS pump loop, started on first use (a daemon thread)."""
    global _loop, _loop_pid
    with _loop_lock:
        # A forked child (workers are forked) has the parent's loop but not its thread.
        if _loop is None or _loop.is_closed() or _loop_pid != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="rayground-tls", daemon=True).start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _join(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    await asyncio.gather(_pipe(a[0], b[1]), _pipe(b[0], a[1]))


def _fingerprint(writer: asyncio.StreamWriter) -> str:
    ssl_object = writer.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return hashlib.sha256(der).hexdigest() if der else ""


# ---------------------------------------------------------------------------- the client side
def client_context() -> ssl.SSLContext:
    # The pin replaces CA and host-name checks: a self-signed certificate named by its hash.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


async def _open(host: str, port: int, pin: str, timeout: float, inner: socket.socket) -> None:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=client_context(), server_hostname=""),
        timeout,
    )
    seen = _fingerprint(writer)
    if not hmac.compare_digest(seen, pin):
        writer.close()
        raise ssl.SSLError(
            f"the server at {host}:{port} showed a certificate whose SHA-256 fingerprint is "
            f"{seen or 'missing'}, not the pinned {pin}: it is not this cluster's head (or node). "
            "Check the address, and copy the token file again if the cluster was restarted"
        )
    local = await asyncio.open_connection(sock=inner)
    pump = asyncio.ensure_future(_join((reader, writer), local))
    _pumps.add(pump)  # the loop holds tasks weakly: keep each until it ends
    pump.add_done_callback(_pumps.discard)


def connect(host: str, port: int, pin: str, timeout: float) -> socket.socket:
    """A socket that carries plain bytes to `host:port` over TLS whose certificate has SHA-256
    fingerprint `pin`. Raises OSError (ssl.SSLError on a wrong certificate) like a connect."""
    ours, theirs = socket.socketpair()
    future = asyncio.run_coroutine_threadsafe(
        _open(host, port, pin, timeout, theirs), _event_loop()
    )
    try:
        future.result(timeout + 1.0)
    except BaseException as exc:
        future.cancel()
        ours.close()
        theirs.close()
        if isinstance(exc, asyncio.TimeoutError | TimeoutError):
            raise TimeoutError(f"TLS connection to {host}:{port} timed out") from None
        raise
    return ours


# ---------------------------------------------------------------------------- the server side
def server_context(cert: Certificate) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert.cert_file, cert.key_file)
    return ctx


class TlsListener:
    """Accepts TLS on a bound TCP socket and pipes each connection to `inner` (a Unix socket
    path of the real listener), where the rayground handshake runs as for any local peer.
    Limits before authentication: the TLS handshake must finish within
    `config.HELLO_TIMEOUT`, and at most `_MAX_TLS_CONNECTIONS` connections are open at once."""

    def __init__(self, sock: socket.socket, inner: str, cert: Certificate) -> None:
        self.inner = inner
        self._open = 0
        self._loop = _event_loop()
        sock.setblocking(False)
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(
                self._serve,
                sock=sock,
                ssl=server_context(cert),
                ssl_handshake_timeout=config.HELLO_TIMEOUT,
            ),
            self._loop,
        ).result(30)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._open >= _MAX_TLS_CONNECTIONS:
            writer.close()
            return
        self._open += 1
        try:
            local = await asyncio.wait_for(
                asyncio.open_unix_connection(self.inner), config.HELLO_TIMEOUT
            )
            await _join((reader, writer), local)
        except (OSError, asyncio.TimeoutError):
            writer.close()
        finally:
            self._open -= 1

    def close(self) -> None:
        async def _close() -> None:
            self._server.close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_close(), self._loop).result(5)


def session_certificate(directory: str, token: bytes) -> Certificate | None:
    """The certificate `make_certificate` left in a TLS cluster's session directory (None
    when the token pins none: no TLS); refuses one that is not the token's."""
    pin = token_pin(token)
    if pin is None:
        return None
    cert = Certificate(os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key"), pin)
    with open(cert.cert_file) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    if not hmac.compare_digest(hashlib.sha256(der).hexdigest(), pin):
        raise RuntimeError(
            f"{cert.cert_file} is not the certificate this cluster's token pins; "
            "restart the cluster with --tls"
        )
    return cert
