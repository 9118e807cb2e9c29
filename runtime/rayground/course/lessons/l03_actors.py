"""Lesson 03 (actors): state kept between calls, one actor shared by tasks, actors in parallel."""

from __future__ import annotations

from typing import Any

from ..exercise import Exercise, Grader
from ..observe import api


def _grade_accumulator(accumulator_class: Any, g: Grader) -> None:
    g.expect(
        hasattr(accumulator_class, "remote"),
        "Accumulator is an actor class",
        "Accumulator is a plain Python class: its objects would live in the notebook. Put "
        "@ray.remote on the line above `class Accumulator`",
    )
    ray = api()

    def use() -> tuple[list[int], int]:
        acc = accumulator_class.remote()
        running = ray.get([acc.add.remote(x) for x in [1, 2, 3, 4, 5]], timeout=30)
        total = ray.get(acc.total.remote(), timeout=30)
        ray.kill(acc)
        return running, total

    running, total = g.run(use)
    g.expect(
        running == [1, 3, 6, 10, 15],
        "add(1) .. add(5) returned the running totals [1, 3, 6, 10, 15]",
        f"add(1), add(2), .. add(5) returned {running!r}; expected the running totals "
        "[1, 3, 6, 10, 15]: keep the total in self and return it after adding",
    )
    g.expect(
        total == 15,
        "total() returned 15 afterwards: the state stayed in the actor",
        f"total() returned {total!r} after adding 1..5; expected 15",
    )
    g.expect_known(
        lambda: len(g.record.actors_created()) == 1 and len(g.record.actor_calls()) == 6,
        "one actor process served all 6 calls",
        f"expected one actor and 6 method calls; the cluster saw {len(g.record.actors_created())} "
        f"actor(s) and {len(g.record.actor_calls())} call(s)",
    )


def _grade_shared(count_visits: Any, g: Grader) -> None:
    value = g.run(count_visits, 6)
    g.expect(
        value == 6,
        "count_visits(6) returned 6",
        f"count_visits(6) returned {value!r}; expected 6 (six tasks, one visit each, all "
        "counted by the same counter)",
    )
    visits = g.record.tasks("visit")
    g.expect_known(
        lambda: len(visits) == 6,
        "six visit tasks ran",
        f"expected 6 visit tasks; the cluster saw {len(visits)}. The visits must come from "
        "tasks, each given the counter's handle",
    )
    created = g.record.actors_created()
    g.expect_known(
        lambda: len(created) == 1,
        "they all talked to one Counter actor, passed to them as a handle",
        f"{len(created)} Counter actors were created: create ONE and pass its handle to every "
        "visit task",
    )
    g.expect_parallel(visits, "the visit tasks")


def _grade_pool(process_all: Any, g: Grader) -> None:
    items = list(range(8))
    value = g.run(process_all, items)
    expected = [i * 10 for i in items]
    g.expect(
        value == expected,
        f"process_all(range(8)) returned {expected}",
        f"process_all(range(8)) returned {value!r}; expected {expected} in the input's order",
    )
    calls = g.record.actor_calls("process")
    actors = {c.actor_id for c in calls}
    g.expect_known(
        lambda: len(actors) == 2 and len(calls) == 8,
        "8 process calls were spread over 2 Worker actors",
        f"expected 8 process calls over 2 Worker actors; the cluster saw {len(calls)} call(s) "
        f"on {len(actors)} actor(s). One actor runs its calls one at a time",
    )
    g.expect_parallel(calls, "the two actors' calls")


EXERCISES = [
    Exercise(
        id="accumulator",
        title="An actor that remembers",
        answer="Accumulator",
        grade=_grade_accumulator,
        hints=(
            "An actor is a class with @ray.remote above it; self keeps its state between calls.",
            "In __init__ set self.sum = 0; add(x) adds x to self.sum and returns it; total() "
            "returns self.sum.",
        ),
        solution="""@ray.remote
class Accumulator:
    def __init__(self):
        self.sum = 0

    def add(self, x):
        self.sum += x
        return self.sum

    def total(self):
        return self.sum
""",
        try_next="keep the running sum in self and decorate the class with @ray.remote.",
    ),
    Exercise(
        id="shared",
        title="One counter, many tasks",
        answer="count_visits",
        grade=_grade_shared,
        hints=(
            "An actor handle can be passed to a task like any other argument.",
            "Create one Counter.remote(), start n visit.remote(counter) tasks, get() them all, "
            "then return ray.get(counter.value.remote()).",
        ),
        solution="""def count_visits(n):
    counter = Counter.remote()
    ray.get([visit.remote(counter) for _ in range(n)])
    return ray.get(counter.value.remote())
""",
        try_next="create one Counter, then pass its handle to n visit tasks started together.",
    ),
    Exercise(
        id="pool",
        title="Two actors at once",
        answer="process_all",
        grade=_grade_pool,
        hints=(
            "Calls to one actor run one after another; two actors can work at the same time.",
            "Create two Worker.remote() actors, send item i to workers[i % 2], and get() all "
            "the refs at the end.",
        ),
        solution="""def process_all(items):
    workers = [Worker.remote() for _ in range(2)]
    refs = [workers[i % 2].process.remote(item) for i, item in enumerate(items)]
    return ray.get(refs)
""",
        try_next="create two Worker actors and alternate the items between them.",
    ),
]
