"""Placement groups on both runtimes (one 2-CPU node): create, ready/wait, the table, the bundle
resources that available_resources() shows, tasks and actors in bundles, removal, bad input.

Cases that need several nodes (strategies across nodes, all-or-nothing over nodes, node
affinity) run on rayground only, with nodes on loopback: tests/integration/test_placement_nodes.py.
"""

from __future__ import annotations

import warnings

import pytest

GET_TIMEOUT = 60


@pytest.fixture
def group(ray, pgm):
    """Makes groups and removes whatever a test left, so the next test sees 2 free CPUs."""
    made = []

    def make(bundles, **kwargs):
        pg = pgm.placement_group(bundles, **kwargs)
        made.append(pg)
        return pg

    yield make
    for pg in made:
        pgm.remove_placement_group(pg)


def _in(strategies, pg, index=-1, capture=None):
    return strategies.PlacementGroupSchedulingStrategy(pg, index, capture)


def test_ready_wait_and_table(ray, pgm, group):
    pg = group([{"CPU": 1}, {"CPU": 1}], strategy="PACK", name="pair")
    assert ray.get(pg.ready(), timeout=GET_TIMEOUT) == pg  # ready() resolves to the group
    assert pg.wait(GET_TIMEOUT) is True
    assert pg.bundle_specs == [{"CPU": 1.0}, {"CPU": 1.0}]
    assert pg.bundle_count == 2
    assert len(pg.id.hex()) == 36  # 18 bytes, as Ray's PlacementGroupID
    row = pgm.placement_group_table(pg)
    assert row["placement_group_id"] == pg.id.hex()
    assert row["name"] == "pair" and row["strategy"] == "PACK" and row["state"] == "CREATED"
    assert row["bundles"] == {0: {"CPU": 1.0}, 1: {"CPU": 1.0}}
    assert set(row["bundles_to_node_id"]) == {0, 1}
    assert pg.id.hex() in pgm.placement_group_table()
    assert pgm.get_placement_group("pair").id == pg.id


def test_reserved_bundles_show_as_group_resources(ray, pgm, group, wait_until):
    pg = group([{"CPU": 1}])
    ray.get(pg.ready(), timeout=GET_TIMEOUT)
    gid = pg.id.hex()

    def shows_group():
        avail = ray.available_resources()
        return (
            avail.get("CPU") == 1.0
            and avail.get(f"CPU_group_0_{gid}") == 1.0
            and avail.get(f"CPU_group_{gid}") == 1.0
            and avail.get(f"bundle_group_0_{gid}") == 1000.0
        )

    wait_until(shows_group, timeout=GET_TIMEOUT)
    assert ray.cluster_resources()["CPU"] == 2.0  # reserved, not gone
    pgm.remove_placement_group(pg)
    wait_until(
        lambda: (
            ray.available_resources().get("CPU") == 2.0
            and not any(gid in key for key in ray.available_resources())
        ),
        timeout=GET_TIMEOUT,
    )


def test_tasks_and_actors_run_in_their_bundle(ray, pgm, strategies, group):
    pg = group([{"CPU": 1}, {"CPU": 1}])
    ray.get(pg.ready(), timeout=GET_TIMEOUT)

    @ray.remote(num_cpus=1)
    def where():
        current = pgm.get_current_placement_group()
        return current.id.hex() if current is not None else None

    @ray.remote(num_cpus=1)
    class Member:
        def group_id(self):
            return pgm.get_current_placement_group().id.hex()

    inside = where.options(scheduling_strategy=_in(strategies, pg, 1)).remote()
    outside = where.options(num_cpus=0).remote()  # (both CPUs are in the group)
    member = Member.options(scheduling_strategy=_in(strategies, pg, 0)).remote()
    assert ray.get([inside, outside], timeout=GET_TIMEOUT) == [pg.id.hex(), None]
    assert ray.get(member.group_id.remote(), timeout=GET_TIMEOUT) == pg.id.hex()
    assert pgm.get_current_placement_group() is None  # the driver is in no group
    ray.kill(member)


def test_a_bundle_runs_only_what_fits_in_it(ray, strategies, group):
    # Bundle 0 holds 1 CPU: with an actor using it, a 1-CPU task for that bundle waits although
    # the node has a free CPU outside the group, and runs once the actor is gone.
    pg = group([{"CPU": 1}])
    ray.get(pg.ready(), timeout=GET_TIMEOUT)

    @ray.remote(num_cpus=1)
    class Holder:
        def ping(self):
            return "held"

    @ray.remote(num_cpus=1)
    def one():
        return 1

    holder = Holder.options(scheduling_strategy=_in(strategies, pg, 0)).remote()
    assert ray.get(holder.ping.remote(), timeout=GET_TIMEOUT) == "held"
    waiting = one.options(scheduling_strategy=_in(strategies, pg, 0)).remote()
    assert ray.get(one.remote(), timeout=GET_TIMEOUT) == 1  # the CPU outside the group
    ready, _ = ray.wait([waiting], timeout=1.0)
    assert ready == []
    ray.kill(holder)
    assert ray.get(waiting, timeout=GET_TIMEOUT) == 1


def test_child_tasks_are_captured_only_when_asked(ray, pgm, strategies, group):
    pg = group([{"CPU": 2}])
    ray.get(pg.ready(), timeout=GET_TIMEOUT)

    @ray.remote(num_cpus=0)
    def child():
        current = pgm.get_current_placement_group()
        return current.id.hex() if current is not None else None

    @ray.remote(num_cpus=1)
    def parent():
        return ray.get(child.remote())

    captured = parent.options(scheduling_strategy=_in(strategies, pg, capture=True)).remote()
    free = parent.options(scheduling_strategy=_in(strategies, pg)).remote()
    assert ray.get([captured, free], timeout=GET_TIMEOUT) == [pg.id.hex(), None]


def test_runtime_context_names_the_group(ray, strategies, group):
    pg = group([{"CPU": 1}])
    ray.get(pg.ready(), timeout=GET_TIMEOUT)

    @ray.remote(num_cpus=1)
    def where():
        context = ray.get_runtime_context()
        return (
            context.get_placement_group_id(),
            context.should_capture_child_tasks_in_placement_group,
        )

    context = ray.get_runtime_context()
    assert context.get_placement_group_id() is None  # the driver
    assert context.should_capture_child_tasks_in_placement_group is False
    in_group = where.options(scheduling_strategy=_in(strategies, pg)).remote()
    capturing = where.options(scheduling_strategy=_in(strategies, pg, capture=True)).remote()
    assert ray.get([in_group, capturing, where.remote()], timeout=GET_TIMEOUT) == [
        (pg.id.hex(), False),
        (pg.id.hex(), True),
        (None, False),
    ]


def test_infeasible_group_stays_pending(ray, pgm, group):
    pg = group([{"CPU": 64}])
    assert pg.wait(1) is False
    ready, _ = ray.wait([pg.ready()], timeout=0.5)
    assert ready == []
    row = pgm.placement_group_table(pg)
    assert row["state"] == "PENDING"
    assert "INFEASIBLE" in row["stats"]["scheduling_state"]


def test_removal_kills_actors_and_fails_pending_tasks(ray, pgm, strategies, exc):
    pg = pgm.placement_group([{"CPU": 1}])
    ray.get(pg.ready(), timeout=GET_TIMEOUT)

    @ray.remote(num_cpus=1)
    class Member:
        def ping(self):
            return 1

    @ray.remote(num_cpus=1)
    def one():
        return 1

    member = Member.options(scheduling_strategy=_in(strategies, pg, 0)).remote()
    assert ray.get(member.ping.remote(), timeout=GET_TIMEOUT) == 1
    pending = one.options(scheduling_strategy=_in(strategies, pg, 0)).remote()
    # Waiting for the bundle the actor holds (on Ray a task removed before it reached the
    # scheduler is never failed: it waits for its group forever).
    assert ray.wait([pending], timeout=1.0)[0] == []
    pgm.remove_placement_group(pg)
    with pytest.raises(exc.TaskPlacementGroupRemoved, match="has been removed"):
        ray.get(pending, timeout=GET_TIMEOUT)
    with pytest.raises(exc.ActorDiedError):
        ray.get(member.ping.remote(), timeout=GET_TIMEOUT)
    assert pgm.placement_group_table(pg)["state"] == "REMOVED"
    pgm.remove_placement_group(pg)  # a second removal is not an error
    with pytest.raises(exc.TaskPlacementGroupRemoved):
        ray.get(pg.ready(), timeout=GET_TIMEOUT)


def test_deprecated_placement_group_option_warns_and_works(ray, pgm, group):
    pg = group([{"CPU": 1}])

    @ray.remote(num_cpus=1)
    def inside():
        return pgm.get_current_placement_group().id.hex()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = inside.options(placement_group=pg).remote()
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    assert any("placement_group parameter is deprecated" in str(w.message) for w in caught)
    assert ray.get(ref, timeout=GET_TIMEOUT) == pg.id.hex()


@pytest.mark.parametrize(
    ("bundles", "strategy"),
    [([], "PACK"), ([{}], "PACK"), ([{"CPU": 0}], "PACK"), ([{"CPU": 1}], "CLOSE")],
)
def test_bad_groups_raise_value_error(ray, pgm, bundles, strategy):
    with pytest.raises(ValueError):
        pgm.placement_group(bundles, strategy=strategy)


def test_bad_bundle_use_raises_value_error(ray, pgm, strategies, group):
    pg = group([{"CPU": 1}, {"CPU": 1}])

    @ray.remote(num_cpus=2)
    def two():
        return 2

    with pytest.raises(ValueError, match="bundle index 5 is invalid"):
        two.options(scheduling_strategy=_in(strategies, pg, 5)).remote()
    with pytest.raises(ValueError, match="cannot fit into"):
        two.options(scheduling_strategy=_in(strategies, pg, 0)).remote()
    with pytest.raises(ValueError, match="Failed to look up placement group"):
        pgm.get_placement_group("no-such-group")


def test_spread_and_default_strategies_run(ray):
    @ray.remote
    def one():
        return 1

    refs = [one.options(scheduling_strategy=s).remote() for s in ("SPREAD", "DEFAULT")]
    assert ray.get(refs, timeout=GET_TIMEOUT) == [1, 1]


def test_node_affinity_runs_on_that_node(ray, strategies):
    @ray.remote
    def node():
        return ray.get_runtime_context().get_node_id()

    here = ray.get_runtime_context().get_node_id()
    hard = strategies.NodeAffinitySchedulingStrategy(node_id=here, soft=False)
    assert ray.get(node.options(scheduling_strategy=hard).remote(), timeout=GET_TIMEOUT) == here
