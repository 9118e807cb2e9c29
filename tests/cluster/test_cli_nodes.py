"""`rayground start --address`: a second node joins a standalone cluster from the command line,
`status` shows both, work placed by a node's resources runs there, and `rayground stop` stops
the node and the head with nothing left behind."""

from __future__ import annotations

import json

from _cluster import cli, join_node, start_standalone, stop_all


def test_start_address_adds_a_node_and_stop_removes_it(driver) -> None:
    cluster = start_standalone("--num-cpus", "1", "--object-store-memory", "200MB")
    try:
        joined = join_node(cluster, "127.0.0.2", "--num-cpus", "1", "--resources", '{"second": 1}')
        assert joined.returncode == 0, joined.stderr
        assert "Joined the rayground cluster at" in joined.stdout
        status = cli("status", "--json")
        assert status.returncode == 0, status.stderr
        nodes = {n["node_ip"]: n for n in json.loads(status.stdout)["nodes"]}
        assert set(nodes) == {"127.0.0.1", "127.0.0.2"}
        assert nodes["127.0.0.2"]["resources_total"]["second"] == 1
        text = cli("status").stdout
        assert "127.0.0.2" in text and "127.0.0.1" in text
        result = driver(
            """
            import numpy as np
            import rayground as ray
            ray.init(address="auto")

            @ray.remote(resources={"second": 1})
            def make():
                return ray.get_runtime_context().get_node_id(), np.ones(30_000_000, np.uint8)

            node, array = ray.get(make.remote(), timeout=60)
            ips = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes()}
            print(ips[node], int(array.sum()))
            """
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["127.0.0.2", "30000000"]
        # A wrong token is refused with one line, not a traceback.
        refused = cli(
            "start",
            "--address",
            cluster.address,
            "--node-ip-address",
            "127.0.0.3",
            RAYGROUND_TOKEN="f" * 64,
        )
        assert refused.returncode == 1
        assert "token" in refused.stderr and "Traceback" not in refused.stderr
        both = cli("start", "--head", "--address", cluster.address)
        assert both.returncode == 2 and "not both" in both.stderr
    finally:
        stopped = stop_all()
    assert "Stopped the node" in stopped.stdout
