"""Lesson 02 (task graphs and wait): fan-out/fan-in, results as they finish, a time budget."""

from __future__ import annotations

import time
from typing import Any

from ..exercise import Exercise, Grader
from ..observe import api
from ..workloads import sleepers


def _grade_fan_in(sum_of_squares: Any, g: Grader) -> None:
    numbers = [1, 2, 3, 4, 5, 6]
    value = g.run(sum_of_squares, numbers)
    g.expect(
        value == 91,
        "sum_of_squares([1..6]) returned 91",
        f"sum_of_squares({numbers}) returned {value!r}; expected 91 (1 + 4 + 9 + 16 + 25 + 36)",
    )
    squares, adds = g.record.tasks("square"), g.record.tasks("add_up")
    g.expect_known(
        lambda: len(squares) == len(numbers),
        f"{len(numbers)} square tasks fanned out",
        f"expected {len(numbers)} square tasks; the cluster saw {len(squares)}",
    )
    g.expect_parallel(squares, "the square tasks")
    g.expect_known(
        lambda: len(adds) == 1,
        "one add_up task fanned in",
        f"expected one add_up task to add the squares up on the cluster; the cluster saw "
        f"{len(adds)}. Pass the square refs to add_up.remote(*refs)",
    )
    produced = {oid for s in squares for oid in s.returns}
    g.expect_known(
        lambda: produced <= set(adds[0].deps),
        "add_up received all the square refs directly: the whole graph ran on the cluster",
        "add_up did not receive the square tasks' refs (the notebook fetched the squares "
        "first): pass the refs themselves, add_up.remote(*refs)",
    )


def _grade_as_they_finish(as_they_finish: Any, g: Grader) -> None:
    delays = [0.8, 0.1, 0.5, 0.3]
    refs: list[Any] = []
    seen: list[tuple[Any, float]] = []  # (result, wall-clock time it reached the caller)

    def submit_and_consume() -> None:
        refs.extend(sleepers(delays))  # inside the run, so the record sees these tasks
        for item in as_they_finish(list(refs)):
            seen.append((item, time.time()))

    g.run(submit_and_consume)
    order = [item for item, _ in seen]
    g.expect(
        sorted(order) == sorted(delays),
        "every result came out once",
        f"as_they_finish yielded {order!r}; expected each of {delays} once",
    )
    # When each task really finished: the cluster's record (a busy machine may start a task
    # late), else its delay after the start.
    finished = _finish_times(g, refs, delays)
    expected = sorted(delays, key=lambda d: finished[d])
    g.expect(
        order == expected,
        f"in the order the tasks finished: {order}",
        f"the results came out as {order}, but the tasks finished in the order {expected}: "
        "use ray.wait(refs, num_returns=1) to take whichever is ready next",
    )
    late = [(item, at - finished[item]) for item, at in seen if at - finished[item] > 0.25]
    g.expect(
        not late,
        "each result reached you right after its task finished",
        f"the {late[0][0]} s task's result reached you {late[0][1]:.2f} s after it was ready: "
        "you waited for more than the next task. Yield each result as soon as ray.wait "
        "returns it"
        if late
        else "",
    )


def _finish_times(g: Grader, refs: list[Any], delays: list[float]) -> dict[float, float]:
    by_return = {ref.hex(): d for ref, d in zip(refs, delays, strict=True)}
    times = {
        by_return[oid]: span.end
        for span in g.record.tasks("sleep_then")
        for oid in span.returns
        if oid in by_return and span.end is not None
    }
    if len(times) == len(delays):
        return times
    return {d: g.record.started + d for d in delays}


def _grade_budget(finished_within: Any, g: Grader) -> None:
    ray = api()
    delays = [0.1, 0.2, 1.5, 2.0]
    refs: list[Any] = []

    def submit_and_answer() -> Any:
        refs.extend(sleepers(delays))  # inside the run, so the record sees these tasks
        return finished_within(list(refs), 0.5)

    g.settle_s = 0.5  # cancelled tasks end quickly; uncancelled ones are reported below
    value = g.run(submit_and_answer)
    took = g.record.wall_s  # the answer's own time, not the record's settling
    g.expect(
        took < 1.0,
        f"it kept to the budget ({took:.2f} s for 0.5 s)",
        f"it took {took:.2f} s for a budget of 0.5 s: give ray.wait a timeout",
    )
    # The tasks that really finished before the answer returned (a busy machine may start one
    # late), else those whose delay fits the budget.
    returned_at = g.record.started + took
    done = [
        d
        for ref, d in zip(refs, delays, strict=True)
        for span in g.record.tasks("sleep_then")
        if ref.hex() in span.returns and span.state == "FINISHED" and span.end <= returned_at
    ]
    expected = sorted(done) if g.known and done else [0.1, 0.2]
    g.expect(
        isinstance(value, list) and sorted(value) == expected,
        f"it returned the results of the tasks that finished in time, {expected}",
        f"finished_within(tasks of {delays} s, 0.5) returned {value!r}; expected the results "
        f"of the tasks done within 0.5 s: {expected}",
    )
    slow_ids = {ref.hex() for ref in refs[2:]}
    slow = [s for s in g.record.tasks("sleep_then") if slow_ids & set(s.returns)]
    g.expect_known(
        lambda: len(slow) == 2 and all(s.state == "FAILED" and s.end is not None for s in slow),
        "the two slow tasks were cancelled, so their CPUs are free again",
        "the slow tasks kept running after the budget was spent: ray.cancel() every ref "
        "that was not ready",
    )
    for ref in refs:
        ray.cancel(ref)


EXERCISES = [
    Exercise(
        id="fan_in",
        title="Fan out, fan in",
        answer="sum_of_squares",
        grade=_grade_fan_in,
        hints=(
            "First a list of square.remote(n) refs, one per number (fan-out).",
            "Then ONE add_up.remote(*refs): the star passes each ref as its own argument, so "
            "the cluster resolves them all before add_up starts. get() only its result.",
        ),
        solution="""def sum_of_squares(numbers):
    refs = [square.remote(n) for n in numbers]
    return ray.get(add_up.remote(*refs))
""",
        try_next="pass the square refs to one add_up.remote(*refs) and get() only that.",
    ),
    Exercise(
        id="as_they_finish",
        title="Results as they finish",
        answer="as_they_finish",
        grade=_grade_as_they_finish,
        hints=(
            "ray.wait(refs, num_returns=1) returns two lists: one ready ref, and the rest.",
            "Loop while refs is not empty: wait for one, yield ray.get(ready[0]), continue "
            "with the rest.",
        ),
        solution="""def as_they_finish(refs):
    while refs:
        ready, refs = ray.wait(refs, num_returns=1)
        yield ray.get(ready[0])
""",
        try_next="loop over ray.wait(refs, num_returns=1) and yield each ready result.",
    ),
    Exercise(
        id="budget",
        title="A time budget",
        answer="finished_within",
        grade=_grade_budget,
        hints=(
            "ray.wait(refs, num_returns=len(refs), timeout=seconds) returns when all are "
            "ready or the time is up, whichever comes first.",
            "get() the ready ones; ray.cancel(ref) each of the others.",
        ),
        solution="""def finished_within(refs, seconds):
    ready, not_ready = ray.wait(refs, num_returns=len(refs), timeout=seconds)
    for ref in not_ready:
        ray.cancel(ref)
    return ray.get(ready)
""",
        try_next="one ray.wait with num_returns=len(refs) and timeout=seconds, then cancel the "
        "rest.",
    ),
]
