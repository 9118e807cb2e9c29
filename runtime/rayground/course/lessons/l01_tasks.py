"""Lesson 01 (tasks): many calls at once, refs passed between tasks, a deadline on get."""

from __future__ import annotations

from typing import Any

from ..exercise import Exercise, Grader
from ..observe import api
from ..workloads import sleepers


def _grade_squares(parallel_squares: Any, g: Grader) -> None:
    numbers = [3, 1, 4, 1, 5, 9, 2, 6]
    value = g.run(parallel_squares, numbers)
    expected = [n * n for n in numbers]
    g.expect(
        value == expected,
        f"parallel_squares({numbers}) returned {expected}",
        f"parallel_squares({numbers}) returned {value!r}; expected {expected} (same order as "
        "the input)",
    )
    squares = g.record.tasks("slow_square")
    g.expect_known(
        lambda: len(squares) == len(numbers),
        f"{len(numbers)} slow_square tasks ran, one per number",
        f"expected {len(numbers)} slow_square tasks (one per number); the cluster saw "
        f"{len(squares)}. Call slow_square.remote(n) for every n",
    )
    g.expect_parallel(squares, "the slow_square tasks")


def _grade_chain(double_then_add_one: Any, g: Grader) -> None:
    value = g.run(double_then_add_one, 20)
    g.expect(
        value == 41,
        "double_then_add_one(20) returned 41",
        f"double_then_add_one(20) returned {value!r}; expected 41 (double first, then add one)",
    )
    doubles, adds = g.record.tasks("double"), g.record.tasks("add_one")
    g.expect_known(
        lambda: len(doubles) == 1 and len(adds) == 1,
        "one double task and one add_one task ran",
        f"expected one double and one add_one task; the cluster saw {len(doubles)} and {len(adds)}",
    )
    g.expect_known(
        lambda: set(doubles[0].returns) <= set(adds[0].deps),
        "add_one received double's ObjectRef and waited for it on the cluster: the value never "
        "travelled through the notebook",
        "add_one got a plain number, so the notebook waited for double first: pass the ref that "
        "double.remote() returns straight to add_one.remote(), and get() only the final result",
    )


def _grade_deadline(results_or_none: Any, g: Grader) -> None:
    ray = api()
    fast = sleepers([0.05, 0.1])
    value = g.run(results_or_none, fast, 5.0)
    g.expect(
        value == [0.05, 0.1],
        "with time to spare it returned the results, [0.05, 0.1]",
        f"results_or_none(two quick tasks, 5.0) returned {value!r}; expected their results "
        "[0.05, 0.1]",
    )
    slow = sleepers([0.05, 1.5])
    g.settle_s = 0.0  # the slow task is meant to outlive the answer; don't wait for it
    value = g.run(results_or_none, slow, 0.3)
    took = g.record.wall_s
    g.expect(
        value is None,
        "with a task still running at the deadline it returned None",
        f"with a 1.5 s task and a 0.3 s deadline it returned {value!r}; expected None",
    )
    g.expect(
        took < 0.9,
        f"and gave up after {took:.2f} s (deadline 0.3 s)",
        f"it returned after {took:.2f} s although the deadline was 0.3 s: pass timeout= to "
        "ray.get so the wait ends on time",
    )
    for ref in slow:
        ray.cancel(ref)  # the check's own leftover task: free its CPU


EXERCISES = [
    Exercise(
        id="squares",
        title="Eight slow squares at once",
        answer="parallel_squares",
        grade=_grade_squares,
        hints=(
            "slow_square.remote(n) returns immediately; collect the refs in a list first.",
            "A list comprehension submits them all: refs = [slow_square.remote(n) for n in "
            "numbers]. Then one ray.get(refs) waits for all of them and keeps their order.",
        ),
        solution="""def parallel_squares(numbers):
    refs = [slow_square.remote(n) for n in numbers]
    return ray.get(refs)
""",
        try_next="submit every task first, then get() the list of refs once.",
    ),
    Exercise(
        id="chain",
        title="Pass a ref, not a value",
        answer="double_then_add_one",
        grade=_grade_chain,
        hints=(
            "A task accepts an ObjectRef as an argument; the cluster waits for it and hands the "
            "task the value.",
            "add_one.remote(double.remote(x)) builds the chain; get() only at the end.",
        ),
        solution="""def double_then_add_one(x):
    doubled = double.remote(x)
    return ray.get(add_one.remote(doubled))
""",
        try_next="hand double.remote(x)'s ref straight to add_one.remote(...).",
    ),
    Exercise(
        id="deadline",
        title="Don't wait forever",
        answer="results_or_none",
        grade=_grade_deadline,
        hints=(
            "ray.get takes a timeout= in seconds.",
            "When the time is up, ray.get raises ray.exceptions.GetTimeoutError: catch it and "
            "return None.",
        ),
        solution="""def results_or_none(refs, seconds):
    try:
        return ray.get(refs, timeout=seconds)
    except ray.exceptions.GetTimeoutError:
        return None
""",
        try_next="call ray.get(refs, timeout=seconds) and catch GetTimeoutError.",
    ),
]
