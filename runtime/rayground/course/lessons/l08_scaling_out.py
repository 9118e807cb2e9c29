"""Lesson 08 (scaling out): work spread over nodes, a task pinned to a node, compute near data,
and a slow program (one task fetching every node's block) diagnosed from its report.

The checks run on the lesson's cluster of three nodes on loopback addresses (127.0.0.1-3).
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np

from ..exercise import Exercise, Grader
from ..observe import api


def _node_ips() -> dict[str, str]:
    """node id -> IP of every live node."""
    return {n["NodeID"]: n["NodeManagerAddress"] for n in api().nodes() if n["Alive"]}


def _where_am_i() -> str:
    from rayground.course.observe import api

    time.sleep(0.2)  # some work, so tasks overlap
    ray = api()
    me = ray.get_runtime_context().get_node_id()
    return next(n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == me)


def _block_sum(block: Any) -> tuple[int, str]:
    from rayground.course.observe import api

    ray = api()
    me = ray.get_runtime_context().get_node_id()
    return int(block.sum()), next(n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == me)


def _grade_spread(tasks_per_node: Any, g: Grader) -> None:
    ips = sorted(set(_node_ips().values()))
    g.expect(
        len(ips) >= 2,
        f"the cluster has {len(ips)} nodes: {', '.join(ips)}",
        f"the cluster has only {len(ips)} node: run the cells of section 2 first, which add "
        "the nodes",
    )
    n = random.randint(3, 4) * len(ips)
    with g.stand_in(tasks_per_node, where_am_i=g.twins.function("where_am_i", _where_am_i)):
        value = g.run(tasks_per_node, n)
    g.expect(
        isinstance(value, dict) and sum(value.values()) == n,
        f"it counted all {n} tasks",
        f"tasks_per_node({n}) returned {value!r}; expected a dict {{node IP: number of tasks}} "
        f"adding up to {n}",
    )
    g.expect_from_tasks(list(value), "where_am_i", "the node IPs")
    g.expect(
        set(value) <= set(ips),
        "the keys are node IP addresses",
        f"the keys were {sorted(value)}; expected node IP addresses such as {ips[0]!r} "
        "(where_am_i returns the IP of the node it ran on)",
    )
    spans = g.record.tasks("where_am_i")
    g.expect_known(
        lambda: len(spans) == n,
        f"{n} where_am_i tasks ran",
        f"expected {n} where_am_i tasks; the cluster saw {len(spans)}",
    )
    g.expect_parallel(spans, "the where_am_i tasks")
    g.expect(
        set(value) == set(ips),
        f"every node ran some: {dict(sorted(value.items()))}",
        f"only {sorted(value)} ran tasks, not all of {ips}: submit them all at once, so that "
        "one node's CPUs are not enough and the scheduler uses the others",
    )


def _grade_pin(run_on: Any, g: Grader) -> None:
    ips = sorted(set(_node_ips().values()))
    g.expect(len(ips) >= 3, "the cluster has 3 nodes", "run the cells of section 2 first")
    asked = [random.choice(ips[1:]) for _ in range(3)]
    got = {}
    with g.stand_in(run_on, where_am_i=g.twins.function("where_am_i", _where_am_i)):
        for ip in asked:
            value = g.run(run_on, ip)
            g.expect_from_tasks(value, "where_am_i", f"run_on({ip!r})'s answer", count=1)
            got[ip] = value
    g.expect(
        all(got_ip == ip for ip, got_ip in got.items()),
        f"run_on(ip) ran where_am_i on the node asked for, each time: {got}",
        f"asked for {list(got)}, the tasks ran on {list(got.values())}: ask for the node's "
        "own resource, resources={f'node:{ip}': 0.01}",
    )
    spans = g.record.tasks("where_am_i")
    g.expect_known(
        lambda: all(any(k.startswith("node:") for k in s.resources) for s in spans),
        "the task asked for the node's own resource, so the scheduler had no other choice",
        "the task ran on that node by luck (it was free): ask for resources="
        "{f'node:{ip}': 0.01} so it always does",
    )


def _grade_near_data(sum_where_it_lives: Any, g: Grader) -> None:
    ray = api()
    ips = sorted(set(_node_ips().values()))
    g.expect(len(ips) >= 3, "the cluster has 3 nodes", "run the cells of section 2 first")
    home = random.choice(ips[1:])
    by_ip = {ip: nid for nid, ip in _node_ips().items()}
    fill = random.randint(2, 9)  # chosen now: a sum typed in cannot match
    make = g.twins.function("make_block", _make_block).options(resources={f"node:{home}": 0.01})
    block = make.remote(4_000_000, fill)
    ray.wait([block], timeout=60, fetch_local=False)
    with g.stand_in(sum_where_it_lives, block_sum=g.twins.function("block_sum", _block_sum)):
        value = g.run(sum_where_it_lives, block, home)
    g.expect(
        value == fill * 4_000_000,
        f"it returned the sum, {fill * 4_000_000}",
        f"sum_where_it_lives(block, {home!r}) returned {value!r}; expected {fill * 4_000_000}",
    )
    g.expect_from_tasks(value, "block_sum", "the sum", count=1)
    g.expect_stayed("make_block", "the 32 MB block")
    spans = g.record.tasks("block_sum")
    g.expect_known(
        lambda: len(spans) == 1,
        "one block_sum task did the work",
        f"expected one block_sum task; the cluster saw {len(spans)}",
    )
    g.expect_known(
        lambda: spans[0].node_id == by_ip[home],
        f"it ran on {home}, where the 32 MB block lives: the data did not move",
        f"block_sum ran on {_node_ips().get(spans[0].node_id, '?')}, so the 32 MB block was "
        f"copied there from {home}: run it on {home} with resources={{f'node:{{ip}}': 0.01}}",
    )


def _make_block(n: int, fill: int) -> np.ndarray:
    return np.full(n, fill, dtype=np.int64)


def _scan(block: Any) -> int:
    time.sleep(0.2)  # the lesson's scan: a pass over the block that takes a while
    return int(block.sum())


_SCAN_BLOCK = 1_000_000  # 8 MB blocks: big enough to matter, quick to make


def _grade_diagnose(total_of: Any, g: Grader) -> None:
    by_ip = {ip: nid for nid, ip in _node_ips().items()}
    ips = sorted(by_ip)
    g.expect(len(ips) >= 3, "the cluster has 3 nodes", "run the cells of section 2 first")
    # Blocks chosen now: how many (more than the lesson's four), their values, and which of the
    # worker nodes holds each (both of them some), made inside the watched run so the record
    # knows which task made which block and where.
    homes = ips[1:3] + [random.choice(ips[1:]) for _ in range(random.randint(3, 4))]
    random.shuffle(homes)
    fills = random.sample(range(1, 100), len(homes))
    make = g.twins.function("make_block", _make_block)

    def blocks() -> list[tuple[str, Any]]:
        return [
            (ip, make.options(resources={f"node:{ip}": 0.01}).remote(_SCAN_BLOCK, fill))
            for ip, fill in zip(homes, fills, strict=True)
        ]

    with g.stand_in(total_of, scan=g.twins.function("scan", _scan)):
        value = g.run(lambda: total_of(blocks()))
    want = _SCAN_BLOCK * sum(fills)
    g.expect(
        value == want,
        f"total_of on {len(homes)} blocks made now returned their total, {want}",
        f"total_of(<{len(homes)} blocks made now>) returned {value!r}; expected {want}, the sum "
        "of every block",
    )
    g.expect_no_finding(
        "get_in_task", "the run analysis found no task waiting in ray.get: the cause is gone"
    )
    g.expect_no_finding("get_in_loop", "and no get inside the submit loop")
    runs = g.expect_from_tasks(value, "scan", "the total", count=len(homes))
    g.expect_stayed("make_block", "every block")
    made = {oid: s.node_id for s in g.record.tasks("make_block") for oid in s.returns}
    ip_of = {nid: ip for ip, nid in by_ip.items()}

    def moved() -> list[str]:
        out = []
        for s in g.record.tasks("scan"):
            for oid in s.deps:
                if oid in made and made[oid] != s.node_id:
                    out.append(f"{ip_of.get(made[oid], '?')} -> {ip_of.get(s.node_id, '?')}")
        return out

    g.expect_known(
        lambda: not moved(),
        "each scan ran on the node where its block lives: no block crossed the network",
        f"blocks crossed the network ({', '.join(moved()[:3])}): run each scan where its block "
        "lives, with the node's own resource, resources={f'node:{ip}': 0.01}",
    )
    g.expect_overlap(runs, "the scan tasks")


EXERCISES = [
    Exercise(
        id="spread",
        title="Work on every node",
        answer="tasks_per_node",
        grade=_grade_spread,
        hints=(
            "where_am_i returns the IP of the node it ran on; collections.Counter counts them.",
            "Submit all n tasks first, so that one node's CPUs are not enough and the scheduler "
            "uses the others; then get the list.",
            "Shape: ips = ray.get([<n where_am_i calls>]); return dict(Counter(ips)).",
        ),
        solution="""def tasks_per_node(n):
    ips = ray.get([where_am_i.remote() for _ in range(n)])
    return dict(Counter(ips))
""",
        try_next="submit all n where_am_i tasks at once and count the IPs they return.",
    ),
    Exercise(
        id="pin",
        title="Run it on that node",
        answer="run_on",
        grade=_grade_pin,
        hints=(
            "Every node has a resource named after it: node:127.0.0.2 (amount 1).",
            "Ask for a sliver of the node's own resource (0.01), so many tasks can share the node"
            " and the scheduler has no other choice.",
            "Shape: return ray.get(where_am_i.options(resources={f'node:{ip}': ...}).remote()).",
        ),
        solution="""def run_on(ip):
    return ray.get(where_am_i.options(resources={f"node:{ip}": 0.01}).remote())
""",
        try_next="ask for resources={f'node:{ip}': 0.01} in where_am_i's options.",
    ),
    Exercise(
        id="near_data",
        title="Compute where the data is",
        answer="sum_where_it_lives",
        grade=_grade_near_data,
        hints=(
            "Moving 32 MB between nodes costs time; moving the task costs nothing.",
            "Run block_sum on the node the block lives on, by asking for that node's resource; "
            "return only the sum.",
            "Shape: total, _ = ray.get(block_sum.options(resources={f'node:{ip}': "
            "...}).remote(block)); return total.",
        ),
        solution="""def sum_where_it_lives(block, ip):
    return ray.get(block_sum.options(resources={f"node:{ip}": 0.01}).remote(block))[0]
""",
        try_next="run block_sum on the node `ip` by asking for its node resource.",
    ),
    Exercise(
        id="diagnose",
        title="Diagnose a program that moves the data",
        answer="total_of",
        grade=_grade_diagnose,
        hints=(
            "Run the %%ray_explain cell and read its finding: which task waited in ray.get, for "
            "how long, and what did it wait for?",
            "scan_all fetches every block to wherever it runs, one after another, while holding "
            "a worker: the blocks cross the network and the other nodes sit idle. Send a scan to "
            "each block instead, on the node that holds it, and add up the small results.",
            "Shape: one scan task per (ip, ref) pair, asking for that node's own resource; "
            "submit them all, then add up ray.get of the list.",
        ),
        solution="""def total_of(blocks):
    return sum(ray.get([scan.options(**on(ip)).remote(ref) for ip, ref in blocks]))
""",
        try_next="read the %%ray_explain report above, then scan each block on its own node.",
    ),
]
