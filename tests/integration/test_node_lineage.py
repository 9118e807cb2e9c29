"""Lineage: a task result whose only copy was on a node that died is made again elsewhere.

Its own module because it needs a private cluster (the shared one in test_multinode.py is
connected for the whole of that module).
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np

import rayground as ray
from _procs import wait_until
from rayground.cluster_utils import Cluster

GET_TIMEOUT = 60.0


@ray.remote
def hold(seconds: float) -> None:
    time.sleep(seconds)


def test_lineage_rebuild_after_node_death(tmp_path) -> None:
    """A private cluster: a task result stored only on a node that dies is made again on the
    node that is left, and `get` returns the right value."""
    cluster = Cluster(initialize_head=True, head_node_args={"object_store_memory": 256 << 20})
    try:
        node = cluster.add_node(node_ip_address="127.0.0.4")
        cluster.connect()
        wait_until(lambda: len(ray.nodes()) == 2, timeout=20, message="two nodes")

        @ray.remote
        def make(marker: str) -> np.ndarray:
            with open(marker, "a") as f:
                f.write(ray.get_runtime_context().get_node_id() + "\n")
            return np.arange(1_000_000, dtype=np.int64)

        blocker = hold.options(resources={"node:127.0.0.1": 0.01}).remote(3)
        marker = tmp_path / "made"
        ref = make.remote(str(marker))
        ready, _ = ray.wait([ref], timeout=GET_TIMEOUT, fetch_local=False)
        assert ready
        first = marker.read_text().split()
        assert first == [node.node_id]
        os.kill(node.process.pid, signal.SIGKILL)
        node.process.wait(timeout=10)
        ray.get(blocker, timeout=GET_TIMEOUT)
        value = ray.get(ref, timeout=GET_TIMEOUT)
        assert int(value.sum()) == int(np.arange(1_000_000, dtype=np.int64).sum())
        attempts = marker.read_text().split()
        assert len(attempts) == 2 and attempts[1] != node.node_id
    finally:
        cluster.shutdown()
