"""LoopbackCluster (lessons 06 and 08): nodes on loopback addresses join a CLI-started head, a
killed node is gone, and stop() leaves no process, session directory or token behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _procs import process_alive, wait_until
from rayground.course.local_cluster import LoopbackCluster


@pytest.mark.timeout(120)
def test_nodes_join_die_and_everything_stops():
    token_before = os.environ.get("RAYGROUND_TOKEN")
    cluster = LoopbackCluster()
    root = Path(cluster.root)
    try:
        address = cluster.start_head(num_cpus=1)
        assert address.startswith("127.0.0.1:")
        assert cluster.head_command[:3] == ["rayground", "start", "--head"]
        b = cluster.add_node("127.0.0.2", num_cpus=1, resources={"node_b": 1})
        c = cluster.add_node("127.0.0.3", num_cpus=1)
        # Lesson 08 shows each node's `rayground start --address ...` command as what joined it.
        assert b.how == c.how == "cli"
        status = wait_until(
            lambda: (out := cluster.cli("status").stdout).count("ALIVE") == 3 and out,
            timeout=30,
            message="three live nodes in `rayground status`",
        )
        assert "127.0.0.2" in status and "127.0.0.3" in status
        cluster.kill_node("127.0.0.3")
        assert not process_alive(c.pid)
        wait_until(
            lambda: (
                "127.0.0.3 DEAD" in cluster.cli("status").stdout
                or "127.0.0.3" not in cluster.cli("status").stdout
            ),
            timeout=30,
            message="the killed node to leave the cluster",
        )
    finally:
        cluster.stop()
    assert not root.exists(), "the private session root is removed"
    assert not process_alive(b.pid)
    assert os.environ.get("RAYGROUND_TOKEN") == token_before
    cluster.stop()  # a second stop is harmless
