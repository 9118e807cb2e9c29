"""The handshake that opens every connection: both ends prove they hold the cluster's token
without sending it, and agree on the protocol version (sans-IO: no sockets here).

    peer (connects: driver, worker, node,            server (accepts: head, object server,
          CLI, lab panel, object pull, caller)               actor worker taking direct calls)
      CHALLENGE  b"RGHS" u16 version, nonce_p  ------->
                                                  <-------  ANSWER  b"RGHS" u16 version,
                                                                    nonce_s, proof_s
                                                     or     REFUSED b"RGHX" reason (utf-8), close
      (the peer checks proof_s: a process without the token cannot make it, so the peer has
       reached a real server of its cluster before it proves anything itself)
      PROOF      proof_p  ----------------------->  checked before the next frame is even read
      INFO       pickled dict (role, pid, ...) --->  only now unpickled (plain data only)
                                                  <-------  the server's first message

    proof_s = HMAC-SHA256(token, b"rayground server" | version | nonce_p | nonce_s)
    proof_p = HMAC-SHA256(token, b"rayground peer"   | version | nonce_p | nonce_s)

Nonces are 32 random bytes, fresh per connection on each side, so no proof is ever valid twice;
the two labels differ, so a server's proof can never be replayed (reflected) as a peer's. The
token itself never crosses the wire: a process that listens where a peer was told to connect
learns a nonce and nothing else. With TLS (tls.py) the certificate's fingerprint is pinned
separately; the handshake runs inside the encrypted stream unchanged.

Every frame before PROOF is checked has a fixed, small length (`max_frame`), so an
unauthenticated peer can make a server buffer at most a few dozen bytes. A peer of protocol
version 1 (whose first frame was b"RGH1" and the token) is recognised and refused by name.
"""

from __future__ import annotations

import hmac
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from . import config, protocol
from .transport import FrameError, frame, recv_frame

MAGIC = b"RGHS"
MAGIC_REFUSED = b"RGHX"
MAGIC_V1 = b"RGH1"  # protocol version 1's HELLO, which carried the token itself
NONCE_LEN = 32
PROOF_LEN = 32  # SHA-256
CHALLENGE_LEN = len(MAGIC) + 2 + NONCE_LEN
ANSWER_LEN = CHALLENGE_LEN + PROOF_LEN
INFO_MAX = 1 << 20  # an INFO is a small dict (sys.path, env vars); read only after PROOF
_SERVER = b"rayground server"
_PEER = b"rayground peer"


class HandshakeError(protocol.ProtocolError):
    """The handshake failed. `reply` is a frame payload to send before closing, if any."""

    def __init__(self, message: str, reply: bytes | None = None) -> None:
        super().__init__(message)
        self.reply = reply


def _proof(token: bytes, label: bytes, version: int, nonce_p: bytes, nonce_s: bytes) -> bytes:
    msg = label + version.to_bytes(2, "little") + nonce_p + nonce_s
    return hmac.digest(token, msg, "sha256")  # (by name: no hashlib import at start-up)


def version_refusal(theirs: int, ours: int = config.PROTOCOL_VERSION) -> HandshakeError:
    why = (
        f"protocol version {theirs} is not this server's version {ours}: run the same "
        "rayground version on every machine of the cluster"
    )
    return HandshakeError(why, MAGIC_REFUSED + why.encode())


def check_first_frame_header(length: int, start: bytes) -> None:
    """Before a first frame is buffered: refuse it when it is longer than a CHALLENGE can be
    (`start` holds its first bytes, to name a version-1 HELLO as such)."""
    if length == CHALLENGE_LEN:
        return
    if start[:4] == MAGIC_V1:
        raise version_refusal(1)
    raise HandshakeError(f"a first frame of {length} bytes is not a handshake")


class ServerHandshake:
    """The accepting side. Feed it whole frames with `receive`; send what it returns."""

    __slots__ = ("_nonce_p", "_nonce_s", "_token", "state")

    def __init__(self, token: bytes) -> None:
        self._token = token
        self._nonce_s = os.urandom(NONCE_LEN)
        self._nonce_p = b""
        self.state = "challenge"  # -> "proof" -> "info" -> "done"

    def max_frame(self) -> int:
        """The longest next frame this side accepts (pre-authentication frames are tiny)."""
        return {"challenge": CHALLENGE_LEN, "proof": PROOF_LEN}.get(self.state, INFO_MAX)

    def receive(self, data: bytes) -> tuple[bytes | None, dict[str, Any] | None]:
        """(a frame to send or None, the peer's INFO once it proved itself, else None).
        Raises HandshakeError (send its `reply`, if any, then close)."""
        if self.state == "challenge":
            if len(data) < 6 or data[:4] != MAGIC:
                if data[:4] == MAGIC_V1:
                    raise version_refusal(1)
                raise HandshakeError("the first frame is not a handshake")
            version = int.from_bytes(data[4:6], "little")
            if version != config.PROTOCOL_VERSION:
                raise version_refusal(version)
            if len(data) != CHALLENGE_LEN:
                raise HandshakeError("a handshake challenge of the wrong length")
            self._nonce_p = data[6:]
            self.state = "proof"
            proof = _proof(self._token, _SERVER, version, self._nonce_p, self._nonce_s)
            return MAGIC + version.to_bytes(2, "little") + self._nonce_s + proof, None
        if self.state == "proof":
            want = _proof(self._token, _PEER, config.PROTOCOL_VERSION, self._nonce_p, self._nonce_s)
            # Security: compare_digest, so the time taken says nothing about how much matched;
            # and nothing the peer sends is unpickled unless it matched.
            if not hmac.compare_digest(data, want):
                raise HandshakeError("wrong token")
            self.state = "info"
            return None, None
        if self.state == "info":
            info = protocol.loads(data)  # envelopes: plain data only, never a global
            if not isinstance(info, dict):
                raise HandshakeError("the handshake's INFO is not a dict")
            self.state = "done"
            return None, info
        raise HandshakeError("the handshake is over")


class PeerHandshake:
    """The connecting side: `challenge()` first; `answer(frame)` checks the server and returns
    the PROOF and INFO frames to send. Raises HandshakeError when the server is not one of the
    cluster's (its proof does not match) or refused us."""

    __slots__ = ("_nonce_p", "_token")

    def __init__(self, token: bytes) -> None:
        self._token = token
        self._nonce_p = os.urandom(NONCE_LEN)

    def challenge(self) -> bytes:
        return MAGIC + config.PROTOCOL_VERSION.to_bytes(2, "little") + self._nonce_p

    def answer(self, data: bytes, info: dict[str, Any]) -> tuple[bytes, bytes]:
        if data[:4] == MAGIC_REFUSED:
            raise HandshakeError(data[4:1000].decode("utf-8", "replace"))
        if len(data) != ANSWER_LEN or data[:4] != MAGIC:
            raise HandshakeError("the server's answer is not a rayground handshake")
        version = int.from_bytes(data[4:6], "little")
        if version != config.PROTOCOL_VERSION:
            raise version_refusal(version)
        nonce_s, proof_s = data[6 : 6 + NONCE_LEN], data[6 + NONCE_LEN :]
        want = _proof(self._token, _SERVER, version, self._nonce_p, nonce_s)
        # Security: the server proves it holds the token before we prove anything; a process
        # that merely listens at the address gets nothing it could use.
        if not hmac.compare_digest(proof_s, want):
            raise HandshakeError(
                "the server did not prove it holds the token given: a wrong token, or the "
                "address is not this cluster's"
            )
        proof_p = _proof(self._token, _PEER, version, self._nonce_p, nonce_s)
        return proof_p, protocol.dumps(info)


def run_peer(
    send: Callable[[bytes], None],
    recv: Callable[[], bytes | None],
    token: bytes,
    info: dict[str, Any],
) -> None:
    """The connecting side over a blocking connection: `send` one frame payload, `recv` one
    (None when the connection closed or timed out). Raises HandshakeError."""
    hs = PeerHandshake(token)
    send(hs.challenge())
    answer = recv()
    if answer is None:
        raise HandshakeError(
            "the server closed the connection during the handshake (another rayground "
            "version, or not a rayground server)"
        )
    proof, payload = hs.answer(answer, info)
    send(proof)
    send(payload)


def peer_over_socket(
    sock: socket.socket, token: bytes, info: dict[str, Any], timeout: float
) -> None:
    """`run_peer` on a blocking socket (a node, an object pull), reading nothing past the
    server's answer."""
    deadline = time.monotonic() + timeout

    def recv() -> bytes | None:
        try:
            return recv_frame(sock, ANSWER_LEN + 1000, deadline)  # a refusal's reason fits
        except FrameError as exc:
            raise HandshakeError(f"the server's answer is not a handshake: {exc}") from None

    run_peer(lambda payload: sock.sendall(frame(payload)), recv, token, info)


def serve_over_socket(sock: socket.socket, token: bytes, deadline: float) -> dict[str, Any]:
    """The accepting side on a blocking socket (the object server): the peer's INFO.
    Raises HandshakeError (after sending the refusal, if one is due)."""
    hs = ServerHandshake(token)
    try:
        while True:
            try:
                data = recv_frame(sock, hs.max_frame(), deadline)
            except FrameError as exc:
                raise HandshakeError(str(exc)) from None
            if data is None:
                raise HandshakeError("no handshake before the deadline")
            reply, info = hs.receive(data)
            if reply is not None:
                sock.sendall(frame(reply))
            if info is not None:
                return info
    except HandshakeError as exc:
        if exc.reply is not None:
            try:
                sock.sendall(frame(exc.reply))
            except OSError:
                pass
        raise
