"""`rayground start`: a standalone head (`--head`) or a node joining one (`--address`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from .args import (
    DEFAULT_PORT,
    UsageError,
    ip_address,
    non_negative,
    parse_size,
    port_number,
    resources_json,
)
from .output import fmt_bytes


def add_parser(sub: Any) -> None:
    start = sub.add_parser(
        "start",
        help="start a cluster that outlives this command",
        description="Start a standalone cluster on this machine. It listens on its Unix socket "
        "and on TCP at --node-ip-address:--port (loopback unless you say otherwise); every "
        "connection must present the token the head writes to its session directory. It runs "
        "until `rayground stop` (or Ctrl-C with --block).",
    )
    start.add_argument("--head", action="store_true", help="start the head of a new cluster")
    start.add_argument(
        "--address",
        help="join the cluster whose head listens at HOST:PORT as another node (the token comes "
        "from RAYGROUND_TOKEN, or from the local session at that address)",
    )
    start.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_PORT,
        help=f"TCP port to listen on (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    start.add_argument("--num-cpus", type=non_negative, help="CPUs to offer (default: all)")
    start.add_argument(
        "--num-gpus", type=non_negative, help="GPUs to offer (default: those detected)"
    )
    start.add_argument(
        "--resources", type=resources_json, help="custom resources as JSON, e.g. '{\"widget\": 2}'"
    )
    start.add_argument(
        "--object-store-memory",
        type=parse_size,
        help="shared memory for objects, in bytes or as 2GB/512MiB (default: 30%% of RAM)",
    )
    start.add_argument(
        "--node-ip-address",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only); give this machine's "
        "network address to let other machines join",
    )
    start.add_argument(
        "--tls",
        action="store_true",
        help="encrypt TCP traffic (for clusters that span machines): a self-signed certificate "
        "is made at start and the token pins its fingerprint; nodes and drivers check it",
    )
    start.add_argument(
        "--block", action="store_true", help="stay in the foreground; Ctrl-C stops the cluster"
    )
    start.set_defaults(func=_start)


def _start(args: argparse.Namespace) -> int:
    from rayground._core import api, lifetime

    if args.head and args.address:
        raise UsageError(
            "give either --head (start a new cluster) or --address HOST:PORT (join one), not both"
        )
    if not args.head and not args.address:
        raise UsageError(
            "start needs --head to start a new cluster here, or --address HOST:PORT to add this "
            "machine to a running one"
        )
    ip = args.node_ip_address
    parsed = ip_address(ip)
    if args.address:
        return _join(args)
    num_gpus = args.num_gpus if args.num_gpus is not None else api.resources_detect_gpus()
    num_cpus = args.num_cpus if args.num_cpus is not None else float(os.cpu_count() or 1)
    try:
        api._validate_resources(num_cpus, num_gpus, args.resources, args.object_store_memory)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    _check_port_free(ip, args.port)
    _check_session_root()
    if not parsed.is_loopback:
        print(
            f"Note: listening on {ip}: any machine that can reach this address and has the "
            "token can run code here. Keep the token secret.",
            file=sys.stderr,
        )
    store = int(args.object_store_memory or _default_store())
    try:
        head = lifetime.start_head(
            num_cpus=num_cpus,
            num_gpus=float(num_gpus),
            gpu_ids=api._gpu_names(num_gpus),
            resources=dict(args.resources or {}),
            object_store_memory=store,
            owner_pid=None,  # a standalone cluster: it runs until `rayground stop`
            port=args.port,
            node_ip_address=ip,
            use_tls=args.tls,
        )
    except RuntimeError as exc:
        raise RuntimeError(_why_head_failed(str(exc))) from None
    tcp = (head.tcp_address or "")[len("tcp://") :]
    token_file = os.path.join(head.session_dir, "token")
    print(
        f"Started a rayground cluster: head pid {head.pid}, {num_cpus:g} CPUs"
        + (f", {num_gpus:g} GPUs" if num_gpus else "")
        + f", object store {fmt_bytes(store)}.\n"
        f"  address:    {tcp}\n"
        f"  token file: {token_file} (readable only by you)\n"
        + ("  TLS:        on (the token pins the head's certificate)\n" if args.tls else "")
        + f"  logs:       {os.path.join(head.session_dir, 'logs')}\n"
        "\n"
        "Connect from Python on this machine:\n"
        '    import rayground as ray; ray.init(address="auto")\n'
        "From another process or machine (the token proves you may connect):\n"
        f"    export RAYGROUND_TOKEN=$(cat {token_file})\n"
        f"    python -c 'import rayground as ray; ray.init(address=\"{tcp}\")'\n"
        "Inspect it with `rayground status`; stop it with `rayground stop`"
        + (" or Ctrl-C." if args.block else "."),
        flush=True,
    )
    if not args.block:
        return 0
    return _block(head)


def _join(args: argparse.Namespace) -> int:
    """`start --address`: run a node process here that joins the head at that address."""
    from rayground._core import api, lifetime

    num_gpus = args.num_gpus if args.num_gpus is not None else api.resources_detect_gpus()
    num_cpus = args.num_cpus if args.num_cpus is not None else float(os.cpu_count() or 1)
    try:
        api._validate_resources(num_cpus, num_gpus, args.resources, args.object_store_memory)
        target, token, _ = api._resolve_address(args.address)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    _check_session_root()
    node = lifetime.start_node(
        target,
        token,
        num_cpus=num_cpus,
        num_gpus=float(num_gpus),
        resources=dict(args.resources or {}),
        object_store_memory=args.object_store_memory,
        node_ip_address=args.node_ip_address,
    )
    print(
        f"Joined the rayground cluster at {target.replace('tcp://', '')} as node "
        f"{node.node_id[:12]} (pid {node.proc.pid}, {args.node_ip_address}): {num_cpus:g} CPUs"
        + (f", {num_gpus:g} GPUs" if num_gpus else "")
        + ".\nSee it with `rayground status`; stop it with `rayground stop`"
        + (" or Ctrl-C." if args.block else "."),
        flush=True,
    )
    if not args.block:
        return 0
    _interrupt_on_termination()
    try:
        code = node.proc.wait()
        print(f"The node exited (code {code}): its head is gone or it was stopped.", flush=True)
        return 1
    except KeyboardInterrupt:
        lifetime.stop_process(node.proc, grace=10.0)
        lifetime.sweep_stale_sessions()
        print("Left the cluster.", flush=True)
        return 0


def _why_head_failed(message: str) -> str:
    """One line: the head's own last words (from its log) and where the log is."""
    log = message.split("Its log (", 1)[-1].split(")", 1)[0]
    last = ""
    with contextlib.suppress(OSError):
        lines = [line.strip() for line in Path(log).read_text().splitlines() if line.strip()]
        last = lines[-1] if lines else ""
    return f"the head did not start: {last or message.splitlines()[0]} (log: {log})"


def _check_session_root() -> None:
    from rayground._core import config

    root = config.session_root()
    # <root>/session_<date>_<time>_<pid>_<hex>/head.sock must fit a Unix socket path (107 bytes).
    if len(os.fsencode(root)) > 54:
        raise UsageError(
            f"the session directory {root!r} is too long for a Unix socket path; set "
            "RAYGROUND_TMPDIR to a shorter directory (at most 54 characters)"
        )


def _default_store() -> int:
    from rayground._core import config

    return config.default_object_store_memory()


def _check_port_free(ip: str, port: int) -> None:
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError as exc:
            if exc.errno == 98:  # EADDRINUSE
                raise UsageError(
                    f"port {port} on {ip} is already in use (a cluster may be running: "
                    "`rayground status`); pick another with --port, or --port 0 for any free one"
                ) from None
            raise UsageError(f"cannot listen on {ip}:{port}: {exc.strerror}") from None


def _interrupt_on_termination() -> None:
    """In the foreground (--block), SIGTERM (SLURM's end of job) and SIGHUP (a closed
    terminal) stop the cluster process cleanly, as Ctrl-C does."""

    def _stop_now(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop_now)
    signal.signal(signal.SIGHUP, _stop_now)


def _block(head: Any) -> int:
    """Stay in the foreground until Ctrl-C or SIGTERM, then stop the cluster."""
    from rayground._core import lifetime

    _interrupt_on_termination()
    try:
        code = head.proc.wait()
        print(f"The cluster's head exited (code {code}).", file=sys.stderr)
        lifetime.stop_head(head.proc, head.shm_dir)
        return 1
    except KeyboardInterrupt:
        print("Stopping the cluster...", flush=True)
        lifetime.stop_head(head.proc, head.shm_dir, grace=10.0)
        print("Stopped.", flush=True)
        return 0
