"""ZeroMQ plumbing shared by every process: addresses, socket options, the token file.

Addresses: a local cluster listens on an `ipc://` socket in its session directory (fast, and only
reachable by users who can open that directory) and optionally on TCP, loopback by default.
"""

from __future__ import annotations

import os
import stat

import zmq

from . import config


def make_socket(ctx: zmq.Context, kind: int, identity: bytes | None = None) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 1000)  # deliver what is queued at close, but never hang exit
    sock.setsockopt(zmq.SNDHWM, 0)  # never drop messages: backpressure is our job, not zmq's
    sock.setsockopt(zmq.RCVHWM, 0)
    if identity is not None:
        sock.setsockopt(zmq.IDENTITY, identity)
    return sock


def bind_router(ctx: zmq.Context, endpoints: list[str]) -> tuple[zmq.Socket, list[str]]:
    sock = make_socket(ctx, zmq.ROUTER)
    sock.setsockopt(zmq.MAXMSGSIZE, config.MAX_FRAME)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
    bound = []
    for ep in endpoints:
        if ep.startswith("tcp://") and ep.endswith(":0"):
            port = sock.bind_to_random_port(ep.rsplit(":", 1)[0])
            bound.append(f"{ep.rsplit(':', 1)[0]}:{port}")
        else:
            sock.bind(ep)
            bound.append(ep)
    return sock, bound


def normalize_address(address: str) -> str:
    """'host:port' -> 'tcp://host:port'; ipc:// and tcp:// pass through."""
    if address.startswith(("ipc://", "tcp://")):
        return address
    if ":" not in address:
        raise ValueError(
            f"address {address!r} is not 'host:port'; give e.g. '127.0.0.1:6380' or 'auto'"
        )
    return f"tcp://{address}"


def write_token_file(path: str, token: bytes) -> None:
    # Security: the token file is created owner-only (0600) before any byte is written.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "wb") as f:
        f.write(token)


def read_token_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read().strip()
