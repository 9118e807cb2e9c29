"""Placement groups across nodes (rayground only: real Ray cannot start several nodes on one
machine in a test). A head and two node processes on loopback (127.0.0.1, .2, .3), one CPU each:
test_multinode.py's cluster.

Checks the strategies' meaning across nodes (STRICT_SPREAD on distinct nodes, STRICT_PACK on one),
all-or-nothing reservation (a group that cannot fit whole takes nothing), that `rayground status`
and list_placement_groups say why a group waits, and NodeAffinitySchedulingStrategy.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# The loopback cluster of test_multinode.py (head and two nodes, one CPU each), started anew for
# this module: one definition of how such a cluster is started and stopped.
from test_multinode import cluster  # noqa: F401

import rayground as ray
from _procs import wait_until
from rayground.exceptions import TaskUnschedulableError
from rayground.util.placement_group import (
    PlacementGroup,
    PlacementGroupID,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from rayground.util.scheduling_strategies import (
    NodeAffinitySchedulingStrategy,
    PlacementGroupSchedulingStrategy,
)
from rayground.util.state import list_placement_groups

GET_TIMEOUT = 60.0


@ray.remote(num_cpus=1)
def node_of() -> str:
    return ray.get_runtime_context().get_node_id()


@pytest.fixture(scope="module", autouse=True)
def nodes(cluster):  # noqa: F811 (the imported fixture)
    wait_until(lambda: len([n for n in ray.nodes() if n["Alive"]]) == 3, timeout=GET_TIMEOUT)
    return cluster


def test_strict_spread_puts_each_bundle_on_its_own_node():
    pg = placement_group([{"CPU": 1}] * 3, strategy="STRICT_SPREAD")
    try:
        ray.get(pg.ready(), timeout=GET_TIMEOUT)
        placed = placement_group_table(pg)["bundles_to_node_id"]
        assert len(set(placed.values())) == 3
        in_bundle = [PlacementGroupSchedulingStrategy(pg, i) for i in range(3)]
        refs = [node_of.options(scheduling_strategy=s).remote() for s in in_bundle]
        ran_on = ray.get(refs, timeout=GET_TIMEOUT)
        assert ran_on == [placed[i] for i in range(3)]  # each task ran where its bundle is
    finally:
        remove_placement_group(pg)


def test_a_group_that_cannot_fit_whole_reserves_nothing(nodes):
    # Four 1-CPU bundles on distinct nodes: only three nodes. Nothing may be held meanwhile.
    pg = placement_group([{"CPU": 1}] * 4, strategy="STRICT_SPREAD")
    try:
        assert pg.wait(1) is False
        assert ray.available_resources()["CPU"] == 3.0
        assert not any("_group_" in key for key in ray.available_resources())
        (row,) = [r for r in list_placement_groups() if r["placement_group_id"] == pg.id.hex()]
        assert row["state"] == "PENDING"
        assert "INFEASIBLE" in row["stats"]["scheduling_state"]
        assert "one per bundle" in row["stats"]["scheduling_state"]
        status = subprocess.run(
            [sys.executable, "-m", "rayground", "status", "--address", nodes.address],
            capture_output=True,
            text=True,
            timeout=GET_TIMEOUT,
            check=True,
        ).stdout
        assert "placement groups: PENDING 1" in status
        assert pg.id.hex()[:12] in status and "one per bundle" in status
    finally:
        remove_placement_group(pg)


def test_strict_pack_needs_one_node_with_room_for_all():
    pg = placement_group([{"CPU": 1}] * 2, strategy="STRICT_PACK")
    try:
        assert pg.wait(1) is False  # no node has 2 CPUs
        assert placement_group_table(pg)["state"] == "PENDING"
    finally:
        remove_placement_group(pg)
    pack = placement_group([{"CPU": 1}] * 2, strategy="PACK")  # PACK spills to a second node
    try:
        assert pack.wait(GET_TIMEOUT) is True
        assert len(set(placement_group_table(pack)["bundles_to_node_id"].values())) == 2
    finally:
        remove_placement_group(pack)


def test_node_affinity():
    others = [
        n["NodeID"]
        for n in ray.nodes()
        if n["Alive"] and "node:__internal_head__" not in n["Resources"]
    ]
    target = others[0]
    hard = NodeAffinitySchedulingStrategy(node_id=target, soft=False)
    assert ray.get(node_of.options(scheduling_strategy=hard).remote(), timeout=GET_TIMEOUT) == (
        target
    )
    gone = NodeAffinitySchedulingStrategy(node_id="ab" * 14, soft=False)
    with pytest.raises(TaskUnschedulableError, match="soft=False"):
        ray.get(node_of.options(scheduling_strategy=gone).remote(), timeout=GET_TIMEOUT)
    soft = NodeAffinitySchedulingStrategy(node_id="ab" * 14, soft=True)
    assert ray.get(node_of.options(scheduling_strategy=soft).remote(), timeout=GET_TIMEOUT)


def test_a_drivers_groups_end_with_it_unless_detached(nodes):
    source = (
        "import rayground as ray\n"
        "from rayground.util.placement_group import placement_group\n"
        f"ray.init(address={nodes.address!r})\n"
        "temp = placement_group([{'CPU': 0.5}], name='temp')\n"
        "kept = placement_group([{'CPU': 0.5}], name='kept', lifetime='detached')\n"
        "ray.get([temp.ready(), kept.ready()])\n"
        "print(temp.id.hex(), kept.id.hex())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=GET_TIMEOUT
    )
    assert out.returncode == 0, out.stderr
    temp, kept = out.stdout.split()
    wait_until(lambda: placement_group_table()[temp]["state"] == "REMOVED", timeout=GET_TIMEOUT)
    table = placement_group_table()
    assert table[kept]["state"] == "CREATED" and table[kept]["lifetime"] == "detached"
    remove_placement_group(PlacementGroup(PlacementGroupID(kept)))
