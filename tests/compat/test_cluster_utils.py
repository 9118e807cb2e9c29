"""`cluster_utils.Cluster`: several nodes on one machine, added and removed at will, as Ray's
test and teaching tool does it. Each test starts its own cluster, so the backend is imported
here without the shared `ray` fixture's init."""

from __future__ import annotations

import importlib

import pytest

GET_TIMEOUT = 120.0  # real Ray starts a node in seconds, more on 2 busy cores
# Ray's dashboard is a web UI rayground does not start (it only takes a fixed port and time).
HEAD = {"num_cpus": 1, "include_dashboard": False}


@pytest.fixture
def backend(bare_backend, monkeypatch):
    """(the backend, a Cluster maker); every cluster made is shut down at the end."""
    monkeypatch.setenv("RAY_raylet_start_wait_time_s", "120")  # Ray starts slowly on 2 busy cores
    cluster_utils = importlib.import_module(f"{bare_backend.__name__}.cluster_utils")
    clusters = []

    def make(**kwargs):
        clusters.append(cluster_utils.Cluster(**kwargs))
        return clusters[-1]

    try:
        yield bare_backend, make
    finally:
        if bare_backend.is_initialized():
            bare_backend.shutdown()
        for cluster in clusters:
            cluster.shutdown()


def test_a_node_joins_runs_its_tasks_and_leaves(backend):
    ray, make = backend
    cluster = make(initialize_head=True, head_node_args=HEAD)
    box = cluster.add_node(num_cpus=1, resources={"box": 1})
    cluster.connect()
    cluster.wait_for_nodes(timeout=GET_TIMEOUT)
    alive = [n for n in ray.nodes() if n["Alive"]]
    assert {n["NodeID"] for n in alive} == {cluster.head_node.node_id, box.node_id}
    assert ray.cluster_resources()["CPU"] == 2 and ray.cluster_resources()["box"] == 1
    assert len(cluster.list_all_nodes()) == 2

    @ray.remote(resources={"box": 1})
    def where():
        return ray.get_runtime_context().get_node_id()

    assert ray.get(where.remote(), timeout=GET_TIMEOUT) == box.node_id

    cluster.remove_node(box)
    cluster.wait_for_nodes(timeout=GET_TIMEOUT)
    rows = {n["NodeID"]: n for n in ray.nodes()}
    assert rows[box.node_id]["Alive"] is False and rows[cluster.head_node.node_id]["Alive"] is True
    assert "box" not in ray.available_resources()
    # A node stopped on purpose: Ray's NodeDeathInfo reason EXPECTED_TERMINATION (1); the dead
    # node's row keeps every key.
    dead = rows[box.node_id]
    assert dead["DeathReason"] == 1 and isinstance(dead["DeathReasonMessage"], str)
    assert dead.keys() == rows[cluster.head_node.node_id].keys()


def test_connect_needs_a_head_and_add_node_names_a_wrong_argument(backend):
    _, make = backend
    with pytest.raises(RuntimeError):
        make(initialize_head=False, connect=True)
    with pytest.raises(TypeError):
        make().add_node(num_cpu=1)  # misspelt: nothing is started
