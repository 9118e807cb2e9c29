"""A cluster of several nodes on this one machine, for tests and for learning what a cluster does
(Ray's `ray.cluster_utils.Cluster`): a head, then nodes added and removed at will.

    from rayground.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    gpu_box = cluster.add_node(num_cpus=2, resources={"gpu_box": 1})
    cluster.connect()
    ...
    cluster.remove_node(gpu_box)   # as if that machine died: its tasks are retried elsewhere
    ray.shutdown(); cluster.shutdown()

Each node is a real node process that joins the head over TCP with the cluster's token, exactly
as another machine would. On Linux every node gets its own loopback address (127.0.0.2, .3, ...:
all of 127/8 is loopback there), so `node:<ip>` resources and the state API tell them apart.
"""

from __future__ import annotations

import atexit
import itertools
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ._core import lifetime

__all__ = ["Cluster", "ClusterNode"]

# What Ray's add_node starts a node with unless told otherwise.
_DEFAULTS: dict[str, Any] = {"num_cpus": 1, "num_gpus": 0, "object_store_memory": 150 << 20}
_NODE_ARGS = frozenset(
    {"num_cpus", "num_gpus", "resources", "object_store_memory", "node_ip_address"}
)
# Ray accepts these in add_node and they mean nothing here (ports, dashboards, log monitors).
_IGNORED_ARGS = frozenset(
    {
        "min_worker_port",
        "max_worker_port",
        "node_manager_port",
        "dashboard_port",
        "include_dashboard",
        "include_log_monitor",
        "dashboard_agent_listen_port",
        "cleanup",
        "namespace",
    }
)


@dataclass(eq=False)
class ClusterNode:
    """One node of a Cluster: its id (as `ray.nodes()` and the state API show it), its address
    and its process."""

    node_id: str
    node_ip_address: str
    address: str  # the cluster's, as Ray's Node.address: what init() and joining nodes take
    is_head: bool
    _proc: Any = field(repr=False)
    _head: lifetime.LocalHead | None = field(default=None, repr=False)

    @property
    def unique_id(self) -> str:
        return f"{self.node_ip_address}:{self.node_id}"

    @property
    def process(self) -> Any:
        """The node's process (a subprocess.Popen): kill it to make the node fail as a crashed
        machine would (rayground only)."""
        return self._proc

    @property
    def session_dir(self) -> str | None:
        """The head's session directory (logs, spill); None for other nodes (rayground only)."""
        return self._head.session_dir if self._head is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


class Cluster:
    """A head and any number of nodes on this machine (Ray's `ray.cluster_utils.Cluster`)."""

    def __init__(
        self,
        initialize_head: bool = False,
        connect: bool = False,
        head_node_args: dict[str, Any] | None = None,
        shutdown_at_exit: bool = True,
    ) -> None:
        if connect and not initialize_head:
            raise RuntimeError(
                "Cannot connect to uninitialized cluster: pass initialize_head=True too, or call "
                "add_node() (the first node is the head) and then connect()."
            )
        self.head_node: ClusterNode | None = None
        self.worker_nodes: set[ClusterNode] = set()
        self.connected = False
        self._shutdown_at_exit = shutdown_at_exit
        self._next_ip = itertools.count(2)
        if shutdown_at_exit:
            atexit.register(self.shutdown)
        if initialize_head:
            self.add_node(**(head_node_args or {}))
            if connect:
                self.connect()

    @property
    def address(self) -> str | None:
        """The head's TCP address (what `ray.init(address=...)` and joining nodes take)."""
        if self.head_node is None or self.head_node._head is None:
            return None
        return self.head_node._head.tcp_address

    gcs_address = address

    @property
    def token(self) -> str | None:
        """The cluster's token: what a node or driver started elsewhere needs in
        RAYGROUND_TOKEN to join (rayground only; Ray's local clusters have none)."""
        if self.head_node is None or self.head_node._head is None:
            return None
        return self.head_node._head.token.decode()

    def connect(self, namespace: str | None = None) -> None:
        """Connect this process's driver to the cluster (`ray.init(address=cluster.address)`)."""
        import rayground

        if self.address is None:
            raise RuntimeError("The cluster has no head: call add_node() first.")
        if self.connected:
            raise RuntimeError("This cluster is already connected: call connect() once.")
        rayground.init(address=self.address, namespace=namespace, ignore_reinit_error=True)
        self.connected = True

    def add_node(self, wait: bool = True, **node_args: Any) -> ClusterNode:
        """Start a node (the head, if there is none yet) and return it once it has joined.

        Takes num_cpus (default 1), num_gpus (0), resources, object_store_memory (150 MiB) and
        node_ip_address (a loopback address of its own, by default)."""
        unknown = set(node_args) - _NODE_ARGS - _IGNORED_ARGS
        if unknown:
            raise TypeError(
                f"add_node() got unexpected argument(s) {sorted(unknown)}: it takes "
                f"{', '.join(sorted(_NODE_ARGS))}"
            )
        args = {**_DEFAULTS, **{k: v for k, v in node_args.items() if k in _NODE_ARGS}}
        num_gpus = args["num_gpus"] or 0
        if self.head_node is None:
            ip = args.get("node_ip_address") or "127.0.0.1"
            head = lifetime.start_head(
                num_cpus=args["num_cpus"],
                num_gpus=num_gpus,
                gpu_ids=[str(i) for i in range(int(num_gpus))],
                resources=dict(args.get("resources") or {}),
                object_store_memory=int(args["object_store_memory"]),
                owner_pid=os.getpid() if self._shutdown_at_exit else None,
                port=0,
                node_ip_address=ip,
            )
            assert head.tcp_address is not None  # port=0 asks for one
            node = ClusterNode(_head_node_id(head), ip, head.tcp_address, True, head.proc, head)
            self.head_node = node
            return node
        assert self.head_node._head is not None and self.address is not None
        ip = args.get("node_ip_address") or self._loopback_ip()
        started = lifetime.start_node(
            self.address,
            self.head_node._head.token,
            num_cpus=args["num_cpus"],
            num_gpus=num_gpus,
            resources=dict(args.get("resources") or {}),
            object_store_memory=int(args["object_store_memory"]),
            node_ip_address=ip,
        )
        # start_node returns once the head has registered the node: `wait` holds already.
        node = ClusterNode(started.node_id, ip, self.address, False, started.proc)
        self.worker_nodes.add(node)
        return node

    def remove_node(self, node: ClusterNode, allow_graceful: bool = True) -> None:
        """Stop a node's process (and so its workers), as if its machine went away. With
        allow_graceful=False it is SIGKILLed, as a crash would end it."""
        if node is not self.head_node and node not in self.worker_nodes:
            raise ValueError(f"{node} is not a node of this cluster (or was removed already)")
        if node.is_head and self.connected:
            import rayground

            # Ray refuses to take a connected driver's node away; the head is ours.
            rayground.shutdown()
            self.connected = False
        if not allow_graceful and node.alive():
            node._proc.send_signal(signal.SIGKILL)
        if node._head is not None:
            lifetime.stop_head(node._proc, node._head.shm_dir)
            self.head_node = None
        else:
            lifetime.stop_process(node._proc)
            self.worker_nodes.discard(node)

    def list_all_nodes(self) -> list[ClusterNode]:
        """The head (if any) and every node added and not removed."""
        head = [self.head_node] if self.head_node is not None else []
        return head + list(self.worker_nodes)

    def remaining_processes_alive(self) -> bool:
        return all(node.alive() for node in self.list_all_nodes())

    def wait_for_nodes(self, timeout: float = 30) -> None:
        """Wait until the cluster's view of live nodes is exactly the nodes added and not
        removed (a removed node is seen as dead a moment after its process ends)."""
        import rayground

        if not rayground.is_initialized():
            return  # nodes are registered before add_node returns; removal is seen on connect
        want = {node.node_id for node in self.list_all_nodes()}
        deadline = time.monotonic() + timeout
        while True:
            alive = {n["NodeID"] for n in rayground.nodes() if n["Alive"]}
            if alive == want:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Timed out after {timeout} s waiting for {len(want)} node(s); the cluster "
                    f"sees {len(alive)} alive"
                )
            time.sleep(0.05)

    def shutdown(self) -> None:
        """Stop every node and the head; the driver is disconnected first if connect() was
        used. Safe to call twice."""
        if self.connected:
            import rayground

            rayground.shutdown()
            self.connected = False
        for node in list(self.worker_nodes):
            self.remove_node(node)
        if self.head_node is not None:
            self.remove_node(self.head_node)
        lifetime.sweep_stale_sessions()

    def _loopback_ip(self) -> str:
        if not sys.platform.startswith("linux"):
            return "127.0.0.1"  # elsewhere only 127.0.0.1 is loopback without setup
        return f"127.0.0.{next(self._next_ip)}"


def _head_node_id(head: lifetime.LocalHead) -> str:
    for session in lifetime.list_local_sessions():
        if session.session_dir == head.session_dir:
            return session.node_id
    raise RuntimeError(f"the head started in {head.session_dir} did not describe itself")
