"""`rayground stop`: end the clusters and nodes `rayground start` started on this machine."""

from __future__ import annotations

import argparse
import signal
import time
from typing import Any

from .args import non_negative


def add_parser(sub: Any) -> None:
    stop = sub.add_parser(
        "stop",
        help="stop the clusters `rayground start` started on this machine",
        description="Stop every cluster `rayground start` started on this machine: its head, "
        "its workers and its shared memory. Clusters owned by a script or notebook (started by "
        "init()) are left alone; they stop with their owner.",
    )
    stop.add_argument(
        "--grace",
        type=non_negative,
        default=10.0,
        help="seconds to wait for a clean stop before killing (default 10)",
    )
    stop.add_argument("--force", action="store_true", help="kill at once (SIGKILL)")
    stop.set_defaults(func=_stop)


def _stop(args: argparse.Namespace) -> int:
    from rayground._core import lifetime

    sessions = [s for s in lifetime.list_local_sessions() if s.owner_pid is None]
    nodes = lifetime.list_local_nodes()
    if not sessions and not nodes:
        print("No cluster started by `rayground start` is running on this machine.")
        lifetime.sweep_stale_sessions()
        return 0
    for node in nodes:
        # Nodes first: they leave their heads cleanly, so the heads do not see them die.
        # Each signal goes only to the process node.json recorded (owner, start time, command).
        node.signal(signal.SIGKILL if args.force else signal.SIGTERM)
        if not _wait_gone([node.pid], args.grace):
            node.signal(signal.SIGKILL)
        print(
            f"Stopped the node {node.node_id[:12]} (pid {node.pid}) of the cluster at "
            f"{node.head.replace('tcp://', '')}."
        )
    lifetime.sweep_stale_sessions()
    for session in sessions:
        workers = _worker_pids(session)
        how = "killed"
        # Only the process head.json recorded is signalled (owner, start time, command).
        session.signal(signal.SIGKILL if args.force else signal.SIGTERM)
        if args.force or not _wait_gone([session.pid], args.grace):
            session.signal(signal.SIGKILL)
            _kill(workers, session)
        else:
            how = "stopped"
        # Workers leave when their head's connection ends; wait for them, then make sure.
        if not _wait_gone(workers, 5.0):
            _kill(workers, session)
            _wait_gone(workers, 5.0)
        lifetime.sweep_stale_sessions()
        lifetime.remove_shm_dir(lifetime.shm_dir_for(session.session_dir))
        tcp = (session.tcp_address or session.address).replace("tcp://", "")
        print(f"{how.capitalize()} the rayground cluster at {tcp} (head pid {session.pid}).")
    return 0


def _worker_pids(session: Any) -> list[int]:
    from rayground._core.client import CoreClient

    try:
        client = CoreClient(
            session.address, session.read_token(), role="observer", connect_timeout=3.0
        )
    except (OSError, ConnectionError):
        return []
    try:
        rows = client.request("list_workers", timeout=3.0)
        # Only this machine's: a worker of a node elsewhere has a pid that means nothing here.
        return [int(w["pid"]) for w in rows if w.get("node_id") == session.node_id]
    except Exception:
        return []
    finally:
        client.close()


def _wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if all(_process_gone(p) for p in pids):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _kill(workers: list[int], session: Any) -> None:
    """SIGKILL the head's workers: processes of ours forked from it (its command line)."""
    from rayground._core import lifetime, ownership

    marker = lifetime.command_marker(session.session_dir)
    for pid in workers:
        ownership.signal_our_process(pid, None, marker, signal.SIGKILL)


def _process_gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie waiting for its parent counts as gone)."""
    from rayground._core.lifetime import pid_alive

    return not pid_alive(pid)
