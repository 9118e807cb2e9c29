"""The `rayground` command line (also `python -m rayground`).

    rayground start --head [options]   start a cluster on this machine that outlives this command
    rayground stop                     stop the clusters `rayground start` started on this machine
    rayground status                   nodes, resources used/total, tasks by state, object store
    rayground memory                   objects in the store and what holds each (like `ray memory`)
    rayground list tasks|actors|objects|nodes|workers|jobs [--filter key=value ...]
    rayground timeline [-o FILE]       Chrome-trace JSON of recent tasks (as `ray timeline`)
    rayground demo                     a two-minute headless tour of the runtime
    rayground serve run|status|shutdown  Serve applications (see rayground/serve/cli.py)

Commands that only read state connect as an *observer*: they create no job and change nothing.
A mistake (a wrong flag, an address with nothing there) is reported in one line, never a
traceback; set RAYGROUND_DEBUG=1 to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import json
import os
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

DEFAULT_PORT = 6380  # next to Ray's 6379, so both can run on one machine
_ADDRESS_HELP = (
    "cluster address: 'auto' (the cluster started on this machine, the default), 'host:port' "
    "(token from RAYGROUND_TOKEN), or RAYGROUND_ADDRESS"
)


class UsageError(Exception):
    """Something the user typed is wrong; the message says what and what to do."""


# ---------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _observer(address: str | None) -> Iterator[Any]:
    """A connection that can read the cluster's state without being a driver (no job)."""
    from rayground._core import api
    from rayground._core.client import CoreClient

    target, token, head_pid = api._resolve_address(
        address or os.environ.get("RAYGROUND_ADDRESS") or "auto"
    )
    client = CoreClient(
        target,
        token,
        role="observer",
        info={"name": "rayground-cli", "command": " ".join(sys.argv[1:3])},
        head_pid=head_pid,
    )
    try:
        yield client
    finally:
        client.close()


def _parse_size(text: str) -> int:
    """'2000000', '500MB', '2GiB', '1.5G' -> bytes."""
    units = {
        "": 1,
        "B": 1,
        "K": 1000,
        "KB": 1000,
        "KIB": 1024,
        "M": 1000**2,
        "MB": 1000**2,
        "MIB": 1024**2,
        "G": 1000**3,
        "GB": 1000**3,
        "GIB": 1024**3,
    }
    raw = text.strip().upper()
    number = raw.rstrip("KMGIB")
    unit = raw[len(number) :]
    try:
        if unit not in units:
            raise ValueError
        return int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size; give bytes (2000000000) or a size such as 2GB or 512MiB"
        ) from None


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number >= 0")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0 = any free)")
    return int(text)


def _resources(text: str) -> dict[str, float]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not JSON ({exc.msg}); give e.g. '{{\"widget\": 2}}'"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"{text!r} must be a JSON object such as '{{\"widget\": 2}}'"
        )
    return value


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _process_gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie waiting for its parent counts as gone)."""
    from rayground._core.lifetime import pid_alive

    return not pid_alive(pid)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [
        max([len(c)] + [min(len(row[i]), 40) for row in cells]) for i, c in enumerate(columns)
    ]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v[:40].ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


# ---------------------------------------------------------------------------- start / stop
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
    parsed = _ip(ip)
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
        + f", object store {_fmt_bytes(store)}.\n"
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


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise UsageError(
            f"--node-ip-address {text!r} is not an IP address; give one of this machine's "
            "addresses, e.g. 127.0.0.1 (the default) or the address other machines reach it by"
        ) from None


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


# ---------------------------------------------------------------------------- reading state
def _status(args: argparse.Namespace) -> int:
    with _observer(args.address) as client:
        info = client.request("status")
        address = client.session.get("addresses", [client.address])
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    tcp = [a[len("tcp://") :] for a in address if a.startswith("tcp://")]
    print(f"cluster at {tcp[0] if tcp else address[0]}")
    for node in info["nodes"]:
        total, avail = node["resources_total"], node["resources_available"]
        print(f"node {node['node_id'][:12]} {node['node_ip']} {node['state']}")
        used = []
        for key in sorted(total):
            if key in ("memory", "object_store_memory") or key.startswith("node:"):
                continue
            used.append(f"{key} {total[key] - avail.get(key, 0):g}/{total[key]:g}")
        print(f"  used: {', '.join(used)}; workers {node['num_workers']}")
    print(
        f"object store: {_fmt_bytes(info['store_used'])} / {_fmt_bytes(info['store_capacity'])}"
        f" in memory, {_fmt_bytes(info['spilled_bytes'])} spilled, {info['objects']} objects"
    )
    print("tasks: " + (", ".join(f"{k} {v}" for k, v in sorted(info["tasks"].items())) or "none"))
    print("actors: " + (", ".join(f"{k} {v}" for k, v in sorted(info["actors"].items())) or "none"))
    groups = info.get("placement_groups", [])
    states = Counter(g["state"] for g in groups)
    shown = ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    print(f"placement groups: {shown or 'none'}")
    for g in groups:
        if g["state"] != "CREATED":  # why it waits: infeasible, or for resources to free up
            print(f"  {g['id'][:12]} {g['name'] or '(no name)'} {g['state']}: {g['why']}")
    running = [j for j in info.get("jobs", []) if j.get("status") == "RUNNING"]
    print(f"drivers connected: {len(running)}")
    return 0


_LIST_COLUMNS = {
    "tasks": ["task_id", "name", "state", "type", "worker_pid", "attempt_number", "error_message"],
    "actors": ["actor_id", "class_name", "name", "namespace", "state", "pid", "is_detached"],
    "objects": ["object_id", "object_size", "where", "reference_count", "task_id"],
    "nodes": ["node_id", "node_ip", "state", "is_head_node", "num_workers"],
    "workers": ["worker_id", "pid", "state", "actor_id", "task_id"],
    "jobs": ["job_id", "status", "pid"],
}


def _parse_filter(item: str) -> tuple[str, str, Any]:
    for op in ("!=", "="):
        key, sep, value = item.partition(op)
        if sep and key.strip():
            return key.strip(), op, value.strip()
    raise UsageError(f"--filter takes key=value or key!=value (e.g. state=RUNNING), got {item!r}")


def _list(args: argparse.Namespace) -> int:
    from rayground.util.state import _apply_filters

    filters = [_parse_filter(item) for item in args.filter or []]
    with _observer(args.address) as client:
        rows = client.request(f"list_{args.what}", {"limit": 10**9 if filters else args.limit})
    try:
        rows = _apply_filters(rows, filters)[-args.limit :] if args.limit else []
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print(f"No {args.what} match." if filters else f"No {args.what}.")
        return 0
    _table(rows, _LIST_COLUMNS[args.what])
    print(f"({len(rows)} {args.what})")
    return 0


def _memory(args: argparse.Namespace) -> int:
    with _observer(args.address) as client:
        rows = client.request("memory", timeout=30)
        status = client.request("status")
    sort_keys = {
        "OBJECT_SIZE": lambda r: -r["object_size"],
        "REFERENCE_TYPE": lambda r: r["reference_type"],
        "PID": lambda r: (r["pid"] is None, r["pid"] or 0),
    }
    rows.sort(key=sort_keys[args.sort_by])
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    unit = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}[args.units]
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    print(f"======== Object references status: {stamp} ========")
    if not args.stats_only:
        for ip in sorted({r["node_ip"] for r in rows}):
            print(f"--- Summary for node address: {ip} ---")
            shown = [
                {
                    "object_id": r["object_id"],
                    "size": f"{r['object_size'] / unit:.2f} {args.units}",
                    "where": r["where"],
                    "owner": _who(r["owner_role"], r["owner_pid"]),
                    "reference_type": r["reference_type"],
                    "held_by": _who(r["role"], r["pid"], r["via"]),
                }
                for r in rows
                if r["node_ip"] == ip
            ]
            _table(shown, ["object_id", "size", "where", "owner", "reference_type", "held_by"])
        if not rows:
            print("No objects in the store.")
    objects = {r["object_id"]: r for r in rows}
    inline = sum(1 for r in objects.values() if r["where"] == "inline")
    print("--- Aggregate object store stats across all nodes ---")
    cap = status["store_capacity"] or 1
    print(
        f"Shared memory: {status['store_used'] / unit:.2f} {args.units} of "
        f"{cap / unit:.2f} {args.units} ({100 * status['store_used'] / cap:.0f}% full), "
        f"spilled to disk: {status['spilled_bytes'] / unit:.2f} {args.units}; "
        f"{len(objects)} objects ({inline} small ones inline in messages)"
    )
    return 0


def _who(role: str | None, pid: int | None, via: str | None = None) -> str:
    text = role or "?"
    if pid is not None:
        text += f" pid {pid}"
    if via:
        text += f" {via}"
    return text


def _timeline(args: argparse.Namespace) -> int:
    from rayground._core.trace import cluster_trace

    with _observer(args.address) as client:
        trace = cluster_trace(client, args.limit)
    path = args.output or os.path.join(
        tempfile.gettempdir(),
        f"rayground-timeline-{datetime.datetime.now().strftime('%Y-%m-%d_%H-%M-%S')}.json",
    )
    with open(path, "w") as f:
        json.dump(trace, f)
    runs = sum(1 for e in trace if e["ph"] == "X")
    print(
        f"Wrote {runs} task runs to {path}. Open it in https://ui.perfetto.dev or chrome://tracing."
    )
    return 0


# ---------------------------------------------------------------------------- demo
def _demo(args: argparse.Namespace) -> int:
    import numpy as np

    import rayground as ray
    from rayground.util import state

    def say(text: str) -> None:
        print(f"\n== {text}", flush=True)

    say("Starting a local cluster with 2 CPUs")
    started = time.perf_counter()
    ray.init(num_cpus=2)
    print(f"cluster resources: {ray.cluster_resources()}")

    @ray.remote
    def slow_square(x: int) -> int:
        time.sleep(0.5)
        return x * x

    say("Tasks: 4 calls of a 0.5 s function")
    t = time.perf_counter()
    print("results:", ray.get([slow_square.remote(i) for i in range(4)]))
    print(f"took {time.perf_counter() - t:.2f} s (sequential would take 2.0 s)")

    @ray.remote
    def fetch(source: str) -> str:
        print(f"fetching {source}")
        time.sleep(0.3)
        return f"data({source})"

    @ray.remote
    def combine(*parts: str) -> str:
        return " + ".join(parts)

    say("A task graph: two fetches feed one combine (worker output is prefixed)")
    print("result:", ray.get(combine.remote(fetch.remote("db"), fetch.remote("api"))))

    @ray.remote
    class Counter:
        def __init__(self) -> None:
            self.value = 0

        def increment(self) -> int:
            self.value += 1
            return self.value

    say("An actor keeps state between calls")
    counter = Counter.remote()
    print("increments:", ray.get([counter.increment.remote() for _ in range(5)]))

    say("The object store: put a 40 MB array once, read it from 4 tasks without copying")
    data = ray.put(np.arange(5_000_000, dtype=np.float64))

    @ray.remote
    def total(array: np.ndarray) -> float:
        return float(array.sum())

    print("sums:", ray.get([total.remote(data) for _ in range(4)]))
    rows = state.list_objects()
    big = [r for r in rows if r["object_size"] > 1_000_000]
    print(f"objects in the store: {len(rows)}, of which large: {len(big)} (one copy)")

    say("What ran (rayground.util.state.summarize_tasks)")
    for name, row in state.summarize_tasks()["cluster"]["summary"].items():
        print(f"  {name:<20} {row['state_counts']}")
    ray.shutdown()
    print(
        f"\nDone in {time.perf_counter() - started:.1f} s. Try the same code in a notebook: "
        "`bash scripts/demo.sh --lab` opens JupyterLab."
    )
    return 0


# ---------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, naming the command and where to read more, instead of usage + error.
        print(f"{self.prog}: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rayground",
        description="Start, stop and inspect rayground clusters.",
        epilog="`rayground COMMAND --help` explains each command.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.commands = sub.choices  # type: ignore[attr-defined]

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
        type=_port,
        default=DEFAULT_PORT,
        help=f"TCP port to listen on (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    start.add_argument("--num-cpus", type=_non_negative, help="CPUs to offer (default: all)")
    start.add_argument(
        "--num-gpus", type=_non_negative, help="GPUs to offer (default: those detected)"
    )
    start.add_argument(
        "--resources", type=_resources, help="custom resources as JSON, e.g. '{\"widget\": 2}'"
    )
    start.add_argument(
        "--object-store-memory",
        type=_parse_size,
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

    stop = sub.add_parser(
        "stop",
        help="stop the clusters `rayground start` started on this machine",
        description="Stop every cluster `rayground start` started on this machine: its head, "
        "its workers and its shared memory. Clusters owned by a script or notebook (started by "
        "init()) are left alone; they stop with their owner.",
    )
    stop.add_argument(
        "--grace",
        type=_non_negative,
        default=10.0,
        help="seconds to wait for a clean stop before killing (default 10)",
    )
    stop.add_argument("--force", action="store_true", help="kill at once (SIGKILL)")
    stop.set_defaults(func=_stop)

    status = sub.add_parser(
        "status",
        help="nodes, resources used/total, tasks by state, object store use",
        description="Show the cluster's nodes, resources used/total, tasks by state, actors and "
        "object store use.",
    )
    status.add_argument("--address", help=_ADDRESS_HELP)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)

    memory = sub.add_parser(
        "memory",
        help="objects in the store and what holds each (like `ray memory`)",
        description="List every object with its size, where it lives (inline, shared memory, "
        "spilled), its owner and each reference that keeps it alive: LOCAL_REFERENCE (a "
        "process holds an ObjectRef), USED_BY_PENDING_TASK, CAPTURED_IN_OBJECT (another "
        "object contains its ref), ACTOR_HANDLE, PINNED_IN_MEMORY.",
    )
    memory.add_argument("--address", help=_ADDRESS_HELP)
    memory.add_argument(
        "--sort-by",
        type=str.upper,
        choices=["OBJECT_SIZE", "REFERENCE_TYPE", "PID"],
        default="OBJECT_SIZE",
        help="row order (default OBJECT_SIZE, largest first)",
    )
    memory.add_argument(
        "--units", type=str.upper, choices=["B", "KB", "MB", "GB"], default="MB", help="size unit"
    )
    memory.add_argument("--stats-only", action="store_true", help="only the totals")
    memory.add_argument("--json", action="store_true", help="print JSON rows")
    memory.set_defaults(func=_memory)

    lister = sub.add_parser(
        "list",
        help="list tasks, actors, objects, nodes, workers or jobs",
        description="List the cluster's tasks, actors, objects, nodes, workers or jobs. "
        "Filters compare a column: --filter state=RUNNING --filter name!=f.",
    )
    lister.add_argument("what", choices=sorted(_LIST_COLUMNS), help="what to list")
    lister.add_argument("--address", help=_ADDRESS_HELP)
    lister.add_argument(
        "--filter", action="append", metavar="KEY=VALUE", help="key=value or key!=value; repeatable"
    )
    lister.add_argument("--limit", type=int, default=100, help="at most this many rows (newest)")
    lister.add_argument("--json", action="store_true", help="print JSON with every column")
    lister.set_defaults(func=_list)

    timeline = sub.add_parser(
        "timeline",
        help="write a Chrome-trace JSON of recent tasks",
        description="Write a Chrome-trace (Trace Event) JSON of recent task runs, one row per "
        "worker process, like `ray timeline`. Open it in https://ui.perfetto.dev or "
        "chrome://tracing.",
    )
    timeline.add_argument("--address", help=_ADDRESS_HELP)
    timeline.add_argument(
        "-o", "--output", help="file to write (default: <tmp>/rayground-timeline-<time>.json)"
    )
    timeline.add_argument(
        "--limit", type=int, default=100_000, help="at most this many recent tasks"
    )
    timeline.set_defaults(func=_timeline)

    demo = sub.add_parser(
        "demo",
        help="run a short headless tour of the runtime",
        description="Start a private cluster, run tasks, a task graph, an actor and the object "
        "store, then stop it.",
    )
    demo.set_defaults(func=_demo)

    course = sub.add_parser(
        "course",
        help="copy the course into a folder of your own and open it in JupyterLab",
        description="Copy the lessons, their images and data into DIR (lessons already there "
        "are your work and are kept) and open JupyterLab there, with lesson 00 next to the "
        "rayground panel. The shipped lessons are never edited.",
    )
    course.add_argument("dir", nargs="?", default="rayground-course", help="the working folder")
    course.add_argument(
        "--reset",
        metavar="LESSON",
        help="put the shipped LESSON (e.g. 03 or 03_actors) back; your copy is kept in "
        "DIR/.answers/ and your progress stays",
    )
    course.add_argument("--no-open", action="store_true", help="prepare the folder only")
    course.set_defaults(func=_course)

    from .serve.cli import add_parser as add_serve_parser

    add_serve_parser(sub)
    return parser


def _course(args: argparse.Namespace) -> int:
    from rayground.course import folder

    dest = Path(args.dir).expanduser().resolve()
    if args.reset:
        try:
            aside = folder.reset(dest, args.reset)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        print(f"{args.reset}: the shipped lesson is back in {dest}")
        if aside is not None:
            print(f"your previous copy is kept as {aside}")
    copied = folder.make(dest)
    print(f"the course is in {dest} ({len(copied)} file(s) copied, your work kept)")
    if args.no_open:
        return 0
    command = folder.lab_command(dest)
    print(f"starting JupyterLab on 127.0.0.1 in {dest} (Ctrl-C to stop)", flush=True)
    os.chdir(dest)
    os.execv(command[0], command)
    return 0  # not reached


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # name the command whose flags were wrong, not just "rayground"
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    from rayground import exceptions

    try:
        code = args.func(args)
    except UsageError as exc:
        print(f"rayground {args.command}: {exc}", file=sys.stderr)
        code = 2
    except (ConnectionError, TimeoutError, exceptions.RayError, RuntimeError, OSError) as exc:
        if os.environ.get("RAYGROUND_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"rayground {args.command}: {first}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
