"""Lesson 01 (tasks): many calls at once, refs passed between tasks, a deadline on get, and a
slow program diagnosed from its "how it ran" report."""

from __future__ import annotations

import random
import time
from typing import Any

from ..exercise import Exercise, Grader
from ..observe import api
from ..workloads import sleep_then


def _slow_square(n: int) -> int:
    time.sleep(0.15)
    return n * n


def _grade_squares(parallel_squares: Any, g: Grader) -> None:
    # Numbers chosen now (negative and zero included), then the edge case: no numbers at all.
    numbers = random.sample(range(-9, 30), 6)
    with g.stand_in(parallel_squares, slow_square=g.twins.function("slow_square", _slow_square)):
        value = g.run(parallel_squares, numbers)
        expected = [n * n for n in numbers]
        g.expect(
            value == expected,
            f"parallel_squares({numbers}) returned {expected}",
            f"parallel_squares({numbers}) returned {value!r}; expected {expected} (same order "
            "as the input)",
        )
        runs = g.expect_from_tasks(value, "slow_square", "every square", count=len(numbers))
        g.expect_overlap(runs, "the slow_square tasks")
        empty = g.run(parallel_squares, [])
    g.expect(
        empty == [],
        "parallel_squares([]) returned []",
        f"parallel_squares([]) returned {empty!r}; with no numbers there is nothing to square: []",
    )


def _double(x: int) -> int:
    time.sleep(0.05)
    return 2 * x


def _add_one(x: int) -> int:
    time.sleep(0.05)
    return x + 1


def _grade_chain(double_then_add_one: Any, g: Grader) -> None:
    twins = {
        "double": g.twins.function("double", _double),
        "add_one": g.twins.function("add_one", _add_one),
    }
    with g.stand_in(double_then_add_one, **twins):
        for x in (random.randint(2, 99), -random.randint(2, 99)):
            value = g.run(double_then_add_one, x)
            g.expect(
                value == 2 * x + 1,
                f"double_then_add_one({x}) returned {2 * x + 1}",
                f"double_then_add_one({x}) returned {value!r}; expected {2 * x + 1} (double "
                "first, then add one)",
            )
            g.expect_from_tasks(value, "add_one", "the result", count=1)
            g.expect_from_tasks(value, "double", "add_one's input", count=1)
    g.expect_stayed(
        "double",
        "double's result (add_one received its ref and the cluster waited for it; the value "
        "never travelled through the notebook)",
    )


def _grade_deadline(results_or_none: Any, g: Grader) -> None:
    ray = api()
    sleeper = g.twins.function("sleep_then", sleep_then)
    # A deadline chosen now: an answer that ignores `seconds` is caught on one side or the other.
    deadline = round(random.uniform(0.8, 1.2), 2)
    quick = [round(random.uniform(0.02, 0.1), 2), round(deadline * 0.55, 2)]
    value = g.run(lambda: results_or_none([sleeper.remote(d, d) for d in quick], deadline))
    took = g.record.wall_s
    g.expect(
        value == quick,
        f"with tasks done in time it returned their results, {quick}",
        f"results_or_none(tasks of {quick} s, {deadline}) returned {value!r}; expected their "
        f"results {quick}: wait up to `seconds` for them",
    )
    g.expect_from_tasks(value, "sleep_then", "those results", count=len(quick))
    g.expect(
        took < deadline,
        f"and returned as soon as they were done ({took:.2f} s)",
        f"it took {took:.2f} s although the tasks were done after {max(quick)} s: ray.get with "
        "a timeout returns as soon as the results are there; don't sleep for the deadline",
    )
    slow = [quick[0], deadline + 1.2]
    g.settle_s = 0.0  # the slow task is meant to outlive the answer; don't wait for it
    refs = [sleeper.remote(d, d) for d in slow]
    value = g.run(results_or_none, refs, deadline)
    took = g.record.wall_s
    for ref in refs:
        ray.cancel(ref)  # the check's own leftover task: free its CPU
    g.expect(
        value is None,
        "with a task still running at the deadline it returned None",
        f"with a {slow[1]} s task and a {deadline} s deadline it returned {value!r}; expected None",
    )
    g.expect(
        deadline - 0.05 <= took < deadline + 0.5,
        f"and gave up after {took:.2f} s (deadline {deadline} s)",
        f"it returned after {took:.2f} s for a deadline of {deadline} s: pass timeout=seconds "
        "to ray.get so the wait ends at the deadline, not before or long after",
    )


def _process_image(image: Any) -> Any:
    time.sleep(0.15)
    return 255 - image


def _grade_diagnose(invert_all: Any, g: Grader) -> None:
    import numpy as np

    # A count chosen now, more than the lesson's eight images: an answer that only handles the
    # lesson's images is caught. Shapes differ too.
    n = random.randint(9, 11)
    rng = np.random.default_rng(random.randrange(2**32))
    images = [rng.integers(0, 255, (random.randint(4, 12), 8, 3)) for _ in range(n)]
    twin = g.twins.function("process_image", _process_image)
    with g.stand_in(invert_all, process_image=twin):
        value = g.run(invert_all, images)
    right = (
        isinstance(value, list)
        and len(value) == n
        and all(np.array_equal(v, 255 - im) for v, im in zip(value, images, strict=True))
    )
    g.expect(
        right,
        f"invert_all on {n} images chosen now returned each one inverted, in order",
        f"invert_all on {n} images returned "
        f"{len(value) if isinstance(value, list) else type(value).__name__} item(s); expected "
        f"{n} arrays, 255 - image for each image, in the input's order",
    )
    runs = g.expect_from_tasks(value, "process_image", "every inverted image", count=n)
    g.expect_no_finding(
        "get_in_loop", "the run analysis found no get inside the submit loop: the cause is gone"
    )
    g.expect_overlap(runs, "the process_image tasks")


EXERCISES = [
    Exercise(
        id="squares",
        title="Eight slow squares at once",
        answer="parallel_squares",
        grade=_grade_squares,
        hints=(
            "slow_square.remote(n) returns immediately with a ref; the work starts on a worker.",
            "Collect all the refs first (one per number), and only then wait, once, for the whole"
            " list: ray.get keeps the order of the list.",
            "Shape: refs = [<submit one slow_square per n>]; return ray.get(refs). An empty input"
            " gives an empty list.",
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
            "So don't get double's result: pass its ref straight to add_one, and get only "
            "add_one's result.",
            "Shape: doubled = <double's ref>; return ray.get(<add_one's ref, made from doubled>).",
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
            "ray.get takes a timeout= in seconds and returns as soon as every value is there.",
            "When the time is up it raises ray.exceptions.GetTimeoutError: that is your signal to"
            " return None.",
            "Shape: try: return ray.get(refs, timeout=...) / except <the timeout error>: return "
            "None.",
        ),
        solution="""def results_or_none(refs, seconds):
    try:
        return ray.get(refs, timeout=seconds)
    except ray.exceptions.GetTimeoutError:
        return None
""",
        try_next="call ray.get(refs, timeout=seconds) and catch GetTimeoutError.",
    ),
    Exercise(
        id="diagnose",
        title="Diagnose a slow program",
        answer="invert_all",
        grade=_grade_diagnose,
        hints=(
            "Run the %%ray_explain cell and read its findings: it names what made the tasks run "
            "one at a time, and where the time went.",
            "invert_one looks harmless, but it gets each result before invert_all's loop sends "
            "the next image: submit every image first, then wait once.",
            "Shape: refs = [<one process_image task per image>]; return ray.get(refs). No helper "
            "that calls ray.get per image.",
        ),
        solution="""def invert_all(images):
    refs = [process_image.remote(image) for image in images]
    return ray.get(refs)
""",
        try_next="read the %%ray_explain report above, then submit every image before one get.",
    ),
]
