"""The placement-group state machine (rayground/_core/placement.py), fed directly: no cluster.

Nodes are dicts of free resources; each test states what a user of placement_group() relies on
(all-or-nothing reservation, the strategies' meaning, why a group is pending, Ray's resource
names for placed bundles)."""

from __future__ import annotations

import pytest

from rayground._core.placement import (
    Group,
    PlacementGroups,
    bundle_resources,
    check_bundles,
    plan_bundles,
    task_request,
)


def nodes(*cpus: float) -> dict[str, dict[str, float]]:
    return {f"n{i}": {"CPU": float(c)} for i, c in enumerate(cpus)}


def group(bundles, strategy="PACK", gid="g1", **kw) -> Group:
    return Group(id=gid, bundles=check_bundles(bundles, strategy), strategy=strategy, **kw)


# ------------------------------------------------------------------ input checks (Ray's errors)


@pytest.mark.parametrize(
    ("bundles", "strategy", "match"),
    [
        ([], "PACK", "empty list"),
        ([{}], "PACK", "empty dictionary"),
        ([{"CPU": 0}], "PACK", "only 0 values"),
        ([{"CPU": -1}], "PACK", "numbers >= 0"),
        ([{"CPU": 1}], "TIGHT", "Invalid placement group strategy 'TIGHT'"),
        ("CPU", "PACK", "list of resource dicts"),
    ],
)
def test_bad_bundles_raise_value_error_saying_what(bundles, strategy, match):
    with pytest.raises(ValueError, match=match):
        check_bundles(bundles, strategy)


def test_zero_amounts_are_dropped_from_a_bundle():
    assert check_bundles([{"CPU": 1, "GPU": 0}], "PACK") == [{"CPU": 1.0}]


# ------------------------------------------------------------------ strategies


def test_strict_pack_puts_every_bundle_on_one_node():
    assert plan_bundles([{"CPU": 1}] * 3, "STRICT_PACK", nodes(2, 3)) == ["n1"] * 3
    assert isinstance(plan_bundles([{"CPU": 1}] * 3, "STRICT_PACK", nodes(2, 2)), str)


def test_pack_fills_one_node_then_spills():
    assert plan_bundles([{"CPU": 1}] * 3, "PACK", nodes(2, 2)) == ["n0", "n0", "n1"]


def test_spread_uses_as_many_nodes_as_it_can_but_is_best_effort():
    assert plan_bundles([{"CPU": 1}] * 2, "SPREAD", nodes(2, 2)) == ["n0", "n1"]
    # One node only: SPREAD still places (STRICT_SPREAD would not).
    assert plan_bundles([{"CPU": 1}] * 2, "SPREAD", nodes(2)) == ["n0", "n0"]


def test_strict_spread_needs_a_distinct_node_per_bundle():
    why = plan_bundles([{"CPU": 1}] * 2, "STRICT_SPREAD", nodes(4))
    assert isinstance(why, str) and "one per bundle" in why
    assert plan_bundles([{"CPU": 1}] * 2, "STRICT_SPREAD", nodes(1, 1)) == ["n0", "n1"]


def test_strict_spread_finds_an_assignment_greedy_order_would_miss():
    # The big bundle must go to n1, the only node it fits on.
    free = {"n0": {"CPU": 1.0}, "n1": {"CPU": 4.0}}
    assert plan_bundles([{"CPU": 1}, {"CPU": 4}], "STRICT_SPREAD", free) == ["n0", "n1"]


# ------------------------------------------------------------------ the state machine


def test_a_group_is_reserved_all_or_nothing():
    pgs = PlacementGroups()
    g = group([{"CPU": 2}, {"CPU": 2}], "STRICT_SPREAD")
    pgs.create(g)
    free = nodes(2, 1)  # the second bundle does not fit anywhere else
    assert pgs.schedule(free, nodes(2, 1)) == []
    assert g.state == "PENDING" and g.nodes == [None, None]
    assert free == nodes(2, 1)  # nothing was taken for the bundle that did fit
    assert g.why.startswith("INFEASIBLE")
    free = nodes(2, 2)
    (res,) = pgs.schedule(free, nodes(2, 2))
    assert g.state == "CREATED" and sorted(res.placed) == [(0, "n0"), (1, "n1")]
    assert free == nodes(0, 0)  # what was reserved is taken from the view


def test_pending_says_waiting_when_it_would_fit_an_idle_cluster():
    pgs = PlacementGroups()
    g = group([{"CPU": 2}])
    pgs.create(g)
    assert pgs.schedule(nodes(1), nodes(2)) == []
    assert g.why.startswith("WAITING_FOR_RESOURCES")


def test_groups_are_placed_in_creation_order_against_the_same_free_resources():
    pgs = PlacementGroups()
    first, second = group([{"CPU": 2}], gid="a"), group([{"CPU": 2}], gid="b")
    pgs.create(first)
    pgs.create(second)
    placed = pgs.schedule(nodes(3), nodes(3))
    assert [r.group.id for r in placed] == ["a"]
    assert second.state == "PENDING"


def test_remove_releases_what_was_placed_and_twice_is_harmless():
    pgs = PlacementGroups()
    g = group([{"CPU": 1}, {"CPU": 1}])
    pgs.create(g)
    pgs.schedule(nodes(2), nodes(2))
    release = pgs.remove(g.id)
    assert release is not None and release.placed == ((0, "n0"), (1, "n0"))
    assert g.state == "REMOVED" and pgs.removed(g.id)
    assert pgs.remove(g.id) is None
    assert not pgs.waiting()


def test_removing_a_pending_group_releases_nothing():
    pgs = PlacementGroups()
    g = group([{"CPU": 9}])
    pgs.create(g)
    pgs.schedule(nodes(1), nodes(1))
    assert pgs.remove(g.id) is None and g.state == "REMOVED"


def test_a_dead_nodes_bundles_are_placed_again_the_others_stay():
    pgs = PlacementGroups()
    g = group([{"CPU": 1}, {"CPU": 1}], "STRICT_SPREAD")
    pgs.create(g)
    pgs.schedule(nodes(1, 1), nodes(1, 1))
    assert pgs.node_lost("n1") == [g]
    assert g.state == "RESCHEDULING" and g.nodes == ["n0", None]
    free = {"n0": {"CPU": 0.0}, "n2": {"CPU": 1.0}}
    (res,) = pgs.schedule(free, {"n0": {"CPU": 1.0}, "n2": {"CPU": 1.0}})
    assert res.placed == ((1, "n2"),) and g.nodes == ["n0", "n2"] and g.state == "CREATED"


def test_names_are_unique_per_namespace_among_live_groups():
    pgs = PlacementGroups()
    pgs.create(group([{"CPU": 1}], gid="a", name="x", namespace="ns"))
    with pytest.raises(ValueError, match="already exists"):
        pgs.create(group([{"CPU": 1}], gid="b", name="x", namespace="ns"))
    pgs.create(group([{"CPU": 1}], gid="c", name="x", namespace="other"))
    pgs.remove("a")
    pgs.create(group([{"CPU": 1}], gid="d", name="x", namespace="ns"))
    assert pgs.named("x", "ns").id == "d"


def test_only_non_detached_groups_end_with_their_job():
    pgs = PlacementGroups()
    pgs.create(group([{"CPU": 1}], gid="a", job_id="j1"))
    pgs.create(group([{"CPU": 1}], gid="b", job_id="j1", lifetime="detached"))
    pgs.create(group([{"CPU": 1}], gid="c", job_id="j2"))
    assert [g.id for g in pgs.of_job("j1")] == ["a"]


def test_row_has_rays_keys():
    g = group([{"CPU": 1}], name="n")
    row = g.row()
    assert {"placement_group_id", "name", "bundles", "bundles_to_node_id", "strategy", "state"} <= (
        set(row)
    )
    assert row["bundles"] == {0: {"CPU": 1.0}} and row["state"] == "PENDING"


# ------------------------------------------------------------------ resource names (Ray's)


def test_bundle_and_task_resources_use_rays_names():
    assert bundle_resources("abc", 1, {"CPU": 2.0}) == {
        "CPU_group_1_abc": 2.0,
        "CPU_group_abc": 2.0,
        "bundle_group_1_abc": 1000.0,
        "bundle_group_abc": 1000.0,
    }
    assert task_request("abc", 1, {"CPU": 1.0}) == {
        "CPU_group_1_abc": 1.0,
        "bundle_group_1_abc": 0.001,
    }
    # A zero-CPU task still asks for a share of the bundle, so it lands inside the group.
    assert task_request("abc", -1, {}) == {"bundle_group_abc": 0.001}


def test_only_the_latest_removed_groups_are_kept(monkeypatch):
    monkeypatch.setattr("rayground._core.placement.REMOVED_KEPT", 2)
    pgs = PlacementGroups()
    for gid in "abc":
        pgs.create(group([{"CPU": 1}], gid=gid))
        pgs.remove(gid)
    assert list(pgs.groups) == ["b", "c"]
