"""Many nodes on one machine: a head and two node processes, each on its own loopback address
(127.0.0.1, .2, .3; all of 127/8 is loopback on Linux), joined over TCP with the token.

Checks placement by custom resources and by `node:<ip>`, a 200 MB array moving between nodes
and to the driver, the state API seeing every node, a node killed with SIGKILL (tasks retried
elsewhere, task results rebuilt from lineage, put objects lost with a clear error) and a node
with a wrong token refused. Every wait has a deadline; every process is stopped at the end.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import numpy as np
import pytest

import rayground as ray
from _procs import wait_until
from rayground._core import lifetime
from rayground.cluster_utils import Cluster
from rayground.exceptions import ObjectLostError
from rayground.util.state import list_nodes, list_objects, list_tasks

GET_TIMEOUT = 60.0
NODE_IPS = ("127.0.0.2", "127.0.0.3")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    local = Cluster(initialize_head=True, head_node_args={"object_store_memory": 1 << 30})
    try:
        for i, ip in enumerate(NODE_IPS):
            local.add_node(resources={f"zone{i + 2}": 4}, node_ip_address=ip)
        local.connect()
        yield local
    finally:
        local.shutdown()


@ray.remote
def node_of() -> str:
    return ray.get_runtime_context().get_node_id()


@ray.remote
def ones(n: int) -> np.ndarray:
    return np.ones(n, dtype=np.uint8)


@ray.remote
def checksum(a: np.ndarray) -> tuple[int, str]:
    return int(a.sum(dtype=np.int64)), ray.get_runtime_context().get_node_id()


def _node_ids_by_ip() -> dict[str, str]:
    return {row["node_ip"]: row["node_id"] for row in list_nodes() if row["state"] == "ALIVE"}


def test_nodes_join_and_resources_add_up(cluster: Cluster) -> None:
    wait_until(lambda: len(ray.nodes()) == 3, timeout=20, message="three nodes")
    ips = {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]}
    assert ips == {"127.0.0.1", *NODE_IPS}
    total = ray.cluster_resources()
    assert total["CPU"] == 3
    assert total["zone2"] == 4 and total["zone3"] == 4
    assert total["node:127.0.0.2"] == 1
    heads = [n for n in ray.nodes() if "node:__internal_head__" in n["Resources"]]
    assert len(heads) == 1 and heads[0]["NodeManagerAddress"] == "127.0.0.1"


def test_placement_by_custom_and_node_resources(cluster: Cluster) -> None:
    by_ip = _node_ids_by_ip()
    assert (
        ray.get(node_of.options(resources={"zone2": 1}).remote(), timeout=GET_TIMEOUT)
        == (by_ip["127.0.0.2"])
    )
    assert (
        ray.get(node_of.options(resources={"zone3": 1}).remote(), timeout=GET_TIMEOUT)
        == (by_ip["127.0.0.3"])
    )
    pinned = node_of.options(resources={"node:127.0.0.3": 0.01}).remote()
    assert ray.get(pinned, timeout=GET_TIMEOUT) == by_ip["127.0.0.3"]
    # Plain tasks spread over every node when there is more work than one node's CPUs.

    @ray.remote
    def busy_node() -> str:
        time.sleep(0.3)
        return ray.get_runtime_context().get_node_id()

    seen = set(ray.get([busy_node.remote() for _ in range(9)], timeout=GET_TIMEOUT))
    assert seen == set(by_ip.values())
    # Actors too.

    @ray.remote
    class Where:
        def node(self) -> str:
            return ray.get_runtime_context().get_node_id()

    actor = Where.options(resources={"zone2": 1}).remote()
    assert ray.get(actor.node.remote(), timeout=GET_TIMEOUT) == by_ip["127.0.0.2"]
    ray.kill(actor)


def test_200mb_array_moves_between_nodes(cluster: Cluster) -> None:
    by_ip = _node_ids_by_ip()
    n = 200_000_000
    ref = ones.options(resources={"zone2": 1}).remote(n)
    # Read on the other node: the bytes are pulled from node 2's object server.
    total, where = ray.get(
        checksum.options(resources={"zone3": 1}).remote(ref), timeout=GET_TIMEOUT
    )
    assert (total, where) == (n, by_ip["127.0.0.3"])
    # And on the head's node, by the driver itself.
    array = ray.get(ref, timeout=GET_TIMEOUT)
    assert array.shape == (n,) and int(array[::1000].sum()) == n // 1000
    row = next(r for r in list_objects() if r["object_id"] == ref.hex())
    assert row["node_id"] == by_ip["127.0.0.2"]
    assert set(row["copies"]) == {by_ip["127.0.0.3"], by_ip["127.0.0.1"]}
    # A put on the driver's node read on a remote node.
    data = ray.put(np.arange(5_000_000, dtype=np.int64))
    total, where = ray.get(
        checksum.options(resources={"zone2": 1}).remote(data), timeout=GET_TIMEOUT
    )
    assert total == int(np.arange(5_000_000, dtype=np.int64).sum())
    assert where == by_ip["127.0.0.2"]
    # Freed everywhere when the last reference goes: the copies' files disappear too.
    del array, ref
    wait_until(
        lambda: all(r["object_size"] < n for r in list_objects()), timeout=20, message="freed"
    )
    store_dirs = [
        node["ObjectStoreSocketName"]
        for node in ray.nodes()
        if "node:__internal_head__" not in node["Resources"]
    ]

    def big_files_left() -> list[str]:
        return [
            name
            for d in store_dirs
            for name in os.listdir(d)
            if os.path.getsize(os.path.join(d, name)) >= n
        ]

    wait_until(lambda: not big_files_left(), timeout=20, message="copies unlinked")


def test_status_shows_every_node(cluster: Cluster, wait_until) -> None:
    from rayground._core.context import current_client

    ref = ones.options(resources={"zone3": 1}).remote(3_000_000)
    ray.get(ref, timeout=GET_TIMEOUT)

    def rows_by_ip() -> dict:
        status = current_client(required=True).request("status")
        return {r["node_ip"]: r for r in status["nodes"]}

    rows = rows_by_ip()
    assert set(rows) == {"127.0.0.1", *NODE_IPS}
    assert rows["127.0.0.3"]["object_store_used"] >= 3_000_000
    # Each node prestarts its workers on its own; on a busy machine one may still be forking.
    wait_until(
        lambda: all(r["num_workers"] >= 1 for r in rows_by_ip().values()),
        timeout=30,
        message="every node shows its prestarted workers",
    )
    tasks = list_tasks(filters=[("name", "=", "ones")])
    assert {t["node_id"] for t in tasks} <= set(_node_ids_by_ip().values())


def test_wrong_token_is_refused(cluster: Cluster) -> None:
    with pytest.raises(ConnectionError, match="token"):
        lifetime.start_node(cluster.address, b"0" * 64, num_cpus=1, timeout=20)
    assert len([n for n in ray.nodes() if n["Alive"]]) == 3


@ray.remote
def hold(seconds: float) -> None:
    time.sleep(seconds)


def test_node_death_reschedules_and_loses_puts(cluster: Cluster, tmp_path) -> None:
    """Runs last in this module's shared cluster: it kills node 3 (127.0.0.3) with SIGKILL."""
    [victim] = [n for n in cluster.worker_nodes if n.node_ip_address == NODE_IPS[1]]
    by_ip = _node_ids_by_ip()

    @ray.remote(max_retries=3)
    def slow(marker: str) -> str:
        with open(marker, "a") as f:
            f.write(ray.get_runtime_context().get_node_id() + "\n")
        time.sleep(2)
        return "done"

    @ray.remote
    def put_inside() -> list:
        return [ray.put(np.full(2_000_000, 7, dtype=np.uint8))]

    [put_ref] = ray.get(
        put_inside.options(resources={"node:127.0.0.3": 0.01}).remote(), timeout=GET_TIMEOUT
    )
    # Fill the other nodes' CPUs so the next plain task lands on node 3.
    blockers = [
        hold.options(resources={f"node:{ip}": 0.01}).remote(4) for ip in ("127.0.0.1", NODE_IPS[0])
    ]
    marker = tmp_path / "attempts"
    running = slow.remote(str(marker))
    wait_until(marker.exists, timeout=20, message="the task to start")
    assert marker.read_text().split() == [by_ip["127.0.0.3"]]
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait(timeout=10)
    # The task is retried on a node that is left, and its caller gets the result.
    assert ray.get(running, timeout=GET_TIMEOUT) == "done"
    attempts = marker.read_text().split()
    assert len(attempts) == 2 and attempts[1] in (by_ip["127.0.0.1"], by_ip[NODE_IPS[0]])
    ray.get(blockers, timeout=GET_TIMEOUT)
    states = {row["node_ip"]: row["state"] for row in list_nodes()}
    assert states["127.0.0.3"] == "DEAD"
    assert "node:127.0.0.3" not in ray.cluster_resources()
    # A put object whose only copy was on node 3 is lost, with a message that says why.
    with pytest.raises(ObjectLostError, match="died"):
        ray.get(put_ref, timeout=GET_TIMEOUT)


def test_malformed_node_hello_is_refused_and_head_survives(cluster: Cluster) -> None:
    from rayground._core import handshake
    from rayground._core.transport import connect

    token = cluster.token.encode()
    for info in (
        {"role": "node", "client_id": "bad-1"},  # no node id
        {"role": "node", "client_id": "bad-2", "node_id": "x", "resources": {"CPU": "lots"}},
        {"role": "node", "client_id": "bad-3", "node_id": "y", "resources": {"CPU": -4}},
    ):
        sock = connect(cluster.address, timeout=5)
        try:
            handshake.peer_over_socket(sock, token, info, timeout=5)
            sock.settimeout(5)
            assert sock.recv(1 << 16)  # the refusal (SHUTDOWN) comes back; no crash
        finally:
            sock.close()
    assert cluster.head_node.process.poll() is None
    assert len([n for n in ray.nodes() if n["Alive"]]) >= 2
    assert ray.get(node_of.remote(), timeout=GET_TIMEOUT)


def test_driver_on_another_machine_uses_its_nodes_store(cluster: Cluster, tmp_path) -> None:
    """A driver on a machine with a node of the cluster (pretended with RAYGROUND_MACHINE_ID,
    which both the node and the driver report) puts into that node's store; a driver on a
    machine with no node is refused with a message that says how to add one."""
    import subprocess
    import sys
    import textwrap

    lifetime_node = None
    old = os.environ.get("RAYGROUND_MACHINE_ID")
    os.environ["RAYGROUND_MACHINE_ID"] = "machine-b"
    try:
        lifetime_node = lifetime.start_node(
            cluster.address, cluster.token.encode(), num_cpus=1, node_ip_address="127.0.0.5"
        )
    finally:
        if old is None:
            os.environ.pop("RAYGROUND_MACHINE_ID")
        else:
            os.environ["RAYGROUND_MACHINE_ID"] = old
    script = tmp_path / "remote_driver.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, numpy as np
            import rayground as ray
            ray.init(address={cluster.address!r})

            @ray.remote(resources={{"node:127.0.0.1": 0.01}})
            def on_head(a):
                return int(a.sum()), np.ones(2_000_000, np.uint8)

            data = ray.put(np.arange(1_000_000, dtype=np.int64))
            total, made = ray.get(on_head.remote(data), timeout=60)
            store = ray.get_runtime_context().get_node_id()
            print(total, int(made.sum()), store == {lifetime_node.node_id!r})
            ray.shutdown()
            """
        )
    )
    env = dict(os.environ, RAYGROUND_TOKEN=cluster.token, RAYGROUND_MACHINE_ID="machine-b")
    try:
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=90
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == [str(sum(range(1_000_000))), "2000000", "True"]
        env["RAYGROUND_MACHINE_ID"] = "machine-c"
        refused = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=90
        )
        assert refused.returncode != 0
        assert "rayground start --address" in refused.stderr
    finally:
        lifetime.stop_process(lifetime_node.proc)
