"""Lesson 02 (task graphs and wait): fan-out/fan-in, results as they finish, a time budget, a
generator task read while it runs."""

from __future__ import annotations

import random
import time
from typing import Any

from ..exercise import Exercise, Grader
from ..observe import api
from ..workloads import sleep_then


def _square(n: int) -> int:
    time.sleep(0.15)
    return n * n


def _add_up(*values: int) -> int:
    time.sleep(0.02)
    return sum(values)


def _grade_fan_in(sum_of_squares: Any, g: Grader) -> None:
    twins = {
        "square": g.twins.function("square", _square),
        "add_up": g.twins.function("add_up", _add_up),
    }
    # Numbers chosen now, then the smallest graph: one number.
    cases = [random.sample(range(-20, 40), 6), [random.randint(2, 30)]]
    fanned_out = []
    with g.stand_in(sum_of_squares, **twins):
        for numbers in cases:
            value = g.run(sum_of_squares, numbers)
            want = sum(n * n for n in numbers)
            g.expect(
                value == want,
                f"sum_of_squares({numbers}) returned {want}",
                f"sum_of_squares({numbers}) returned {value!r}; expected {want}, the sum of "
                "their squares",
            )
            g.expect_from_tasks(value, "add_up", "the total", count=1)
            runs = g.expect_from_tasks(value, "square", "add_up's inputs", count=len(numbers))
            fanned_out = fanned_out or runs
    g.expect_stayed("square", "the squares (add_up received their refs)")
    g.expect_overlap(fanned_out, "the square tasks")


def _grade_as_they_finish(as_they_finish: Any, g: Grader) -> None:
    sleeper = g.twins.function("sleep_then", sleep_then)
    # Delays and labels chosen now; the labels do not sort in finishing order.
    delays = random.sample([0.1, 0.25, 0.4, 0.55, 0.7], 4)
    labels = random.sample(["ant", "bee", "cat", "dog", "eel", "fox"], 4)
    seen: list[tuple[Any, float]] = []  # (result, wall-clock time it reached the caller)

    def submit_and_consume() -> None:
        refs = [sleeper.remote(d, label) for d, label in zip(delays, labels, strict=True)]
        for item in as_they_finish(refs):
            seen.append((item, time.time()))

    g.run(submit_and_consume)
    order = [item for item, _ in seen]
    g.expect(
        sorted(order) == sorted(labels),
        "every result came out once",
        f"as_they_finish yielded {order!r}; expected each of {labels} once",
    )
    runs = g.expect_from_tasks(order, "sleep_then", "the results", count=len(labels))
    # When each task finished, by its worker's own clock.
    finished = {str(item): g.twins.runs(item)[0].end for item in order}
    expected = sorted(order, key=lambda item: finished[str(item)])
    g.expect(
        order == expected,
        f"in the order the tasks finished: {order}",
        f"the results came out as {order}, but the tasks finished in the order {expected}: "
        "use ray.wait(refs, num_returns=1) to take whichever is ready next",
    )
    delays_seen = [(item, at - finished[str(item)]) for item, at in seen]
    late = [(item, after) for item, after in delays_seen if after > 0.25]
    g.expect(
        not late,
        "each result reached you right after its task finished",
        f"the {late[0][0]!r} task's result reached you {late[0][1]:.2f} s after it was ready: "
        "you waited for more than the next task. Yield each result as soon as ray.wait "
        "returns it"
        if late
        else "",
    )
    g.expect_overlap(runs, "the tasks")


def _grade_budget(finished_within: Any, g: Grader) -> None:
    ray = api()
    sleeper = g.twins.function("sleep_then", sleep_then)
    budget = round(random.uniform(0.4, 0.7), 2)
    fast = [round(random.uniform(0.1, budget / 2), 2) for _ in range(2)]
    slow = [budget + 1.5, budget + 2.0]
    delays = fast + slow
    random.shuffle(delays)
    refs: list[Any] = []

    def submit_and_answer() -> Any:
        refs.extend(sleeper.remote(d, d) for d in delays)
        return finished_within(list(refs), budget)

    g.settle_s = 0.5  # cancelled tasks end quickly; uncancelled ones are reported below
    value = g.run(submit_and_answer)
    took = g.record.wall_s  # the answer's own time, not the record's settling
    g.expect(
        took < budget + 0.5,
        f"it kept to the budget ({took:.2f} s for {budget} s)",
        f"it took {took:.2f} s for a budget of {budget} s: give ray.wait a timeout",
    )
    g.expect(
        isinstance(value, list) and sorted(value) == sorted(fast),
        f"it returned the results of the tasks that finished in time, {sorted(fast)}",
        f"finished_within(tasks of {delays} s, {budget}) returned {value!r}; expected the "
        f"results of the tasks done within {budget} s: {sorted(fast)}",
    )
    g.expect_from_tasks(value, "sleep_then", "those results", count=len(fast))
    slow_refs = [ref for ref, d in zip(refs, delays, strict=True) if d in slow]
    # Wait as long as an uncancelled slow task would run: a cancelled one ends at once, but on a
    # busy machine Ray's asynchronous cancel can take more than a second to reach the worker.
    outcome = _cancelled(ray, slow_refs, wait_s=max(slow) + 1.0)
    for ref in refs:
        ray.cancel(ref)
    g.expect(
        outcome == ["cancelled"] * len(slow),
        "the slow tasks were cancelled, so their CPUs are free again",
        f"the slow tasks were not cancelled ({', '.join(outcome)}): they kept running after "
        "the budget was spent. ray.cancel() every ref that was not ready",
    )


def _cancelled(ray: Any, refs: list[Any], wait_s: float) -> list[str]:
    """For each ref: "cancelled" if its task was cancelled, "still running" or "finished",
    waiting at most `wait_s` in all."""
    deadline = time.monotonic() + wait_s
    out = []
    for ref in refs:
        try:
            ray.get(ref, timeout=max(0.1, deadline - time.monotonic()))
            out.append("finished")
        except ray.exceptions.TaskCancelledError:
            out.append("cancelled")
        except ray.exceptions.GetTimeoutError:
            out.append("still running")
        except ray.exceptions.RayError as exc:  # e.g. a worker that died while interrupted
            out.append("cancelled" if "cancel" in str(exc).lower() else type(exc).__name__)
    return out


_MEASURE_S = 0.15  # per sample, in the lesson's `measure` and its twin


def _measure(samples: list[int]) -> Any:
    for sample in samples:
        time.sleep(_MEASURE_S)
        yield sample * 10


def _grade_stream(first_over: Any, g: Grader) -> None:
    # Samples chosen now: the first reading over the limit comes early (at 1..4), more follow,
    # some later ones are over the limit too (an answer taking the largest is wrong).
    n = random.randint(10, 12)
    limit = random.randint(20, 60)
    hit = random.randint(1, 4)
    low, high = -5, limit // 10
    samples = [random.randint(low, high) for _ in range(n)]
    samples[hit] = high + random.randint(1, 3)
    samples[-1] = high + 5
    want = samples[hit] * 10
    with g.stand_in(first_over, measure=g.twins.function("measure", _measure)):
        point = g.twins.mark_point()
        value = g.run(first_over, samples, limit)
        took = g.record.wall_s
        fetched = g.twins.fetched_since(point, "measure")
        g.expect(
            value == want,
            f"first_over({samples}, {limit}) returned {want}",
            f"first_over({samples}, {limit}) returned {value!r}; expected {want}, the first "
            f"reading over {limit} (sample {samples[hit]} at position {hit}, times 10)",
        )
        g.expect_from_tasks(value, "measure", "the reading", count=1)
        whole = n * _MEASURE_S
        g.expect(
            took < 0.7 * whole,
            f"it returned after {took:.2f} s, while the generator needs {whole:.1f} s for all "
            f"{n} samples: it took each reading as the generator yielded it",
            f"it returned after {took:.2f} s: about when the generator had measured all {n} "
            f"samples ({whole:.1f} s). Iterate over the generator's refs as they come and stop "
            "at the first reading over the limit; don't collect them all first",
        )
        g.expect(
            fetched <= hit + 1,
            f"only the {fetched} reading(s) up to the first one over the limit were fetched",
            f"{fetched} readings were fetched into the notebook, but the answer was reading "
            f"{hit + 1}: stop iterating once you have it",
        )
        quiet = [random.randint(low, high) for _ in range(3)]
        none = g.run(first_over, quiet, limit)
    g.expect(
        none is None,
        f"with no reading over the limit ({quiet}) it returned None",
        f"first_over({quiet}, {limit}) returned {none!r}; no reading is over {limit}, so "
        "expected None",
    )


def _load(source: str) -> list[str]:
    time.sleep(0.15)
    return [f"{source}-{i}" for i in range(3)]


def _clean(rows: list[str]) -> list[str]:
    time.sleep(0.1)
    return [row.upper() for row in rows]


def _merge(*parts: list[str]) -> list[str]:
    time.sleep(0.02)
    return [row for part in parts for row in part]


def _grade_diagnose(pipeline: Any, g: Grader) -> None:
    # Sources chosen now, more than the lesson's three.
    sources = [f"src{random.randrange(1000)}x{i}" for i in range(random.randint(4, 5))]
    twins = {
        "load": g.twins.function("load", _load),
        "clean": g.twins.function("clean", _clean),
        "merge": g.twins.function("merge", _merge),
    }
    with g.stand_in(pipeline, **twins):
        value = g.run(pipeline, sources)
    want = [f"{s}-{i}".upper() for s in sources for i in range(3)]
    g.expect(
        value == want,
        f"pipeline({sources}) returned the {len(want)} merged rows in order",
        f"pipeline({sources}) returned {value!r}; expected {want}",
    )
    g.expect_from_tasks(value, "merge", "the merged rows", count=1)
    g.expect_from_tasks(value, "clean", "the rows", count=len(sources))
    loads = g.expect_from_tasks(value, "load", "the rows", count=len(sources))
    g.expect_stayed("load", "the loaded rows")
    g.expect_no_finding("get_in_loop", "the run analysis found no get inside the submit loop")
    g.expect_overlap(loads, "the load tasks")


EXERCISES = [
    Exercise(
        id="fan_in",
        title="Fan out, fan in",
        answer="sum_of_squares",
        grade=_grade_fan_in,
        hints=(
            "Fan-out: one square task per number. Fan-in: one add_up task that receives all of "
            "their refs.",
            "A star passes each ref of a list as its own argument; the cluster resolves them "
            "before add_up starts. Get only add_up's result.",
            "Shape: refs = [<a square per n>]; return ray.get(add_up.remote(*...)).",
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
            "ray.wait(refs, num_returns=1) returns two lists: one ref that is ready, and the rest.",
            "Loop while refs is not empty: wait for one, yield its value, carry on with the rest.",
            "Shape: while refs: ready, refs = ray.wait(...); yield <the value of ready[0]>.",
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
            "ray.wait(refs, num_returns=len(refs), timeout=seconds) returns when all are ready or"
            " the time is up, whichever comes first.",
            "It gives you (ready, not_ready): get the ready ones, and cancel every one that is "
            "not ready so its CPU is freed.",
            "Shape: one ray.wait with both num_returns and timeout; a loop of ray.cancel over the"
            " not-ready refs; return the values of the ready ones.",
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
    Exercise(
        id="stream",
        title="Readings as they are made",
        answer="first_over",
        grade=_grade_stream,
        hints=(
            "measure.remote(samples) returns at once with a generator of refs: each ref appears "
            "as soon as the task has yielded that reading.",
            "Loop over it with for; ray.get each ref; return the first reading over the limit "
            "right away. After the loop, nothing was over it: return None.",
            "Shape: for <each ref the generator gives>: reading = <its value>; if <over the "
            "limit>: return reading. After the loop: return None.",
        ),
        solution="""def first_over(samples, limit):
    for ref in measure.remote(samples):
        reading = ray.get(ref)
        if reading > limit:
            return reading
    return None
""",
        try_next="iterate over measure.remote(samples) and return at the first reading over "
        "the limit.",
    ),
    Exercise(
        id="diagnose",
        title="Diagnose a slow pipeline",
        answer="pipeline",
        grade=_grade_diagnose,
        hints=(
            "Read the %%ray_explain report and the %ray_dag drawing: how many loads ran at once, "
            "and is there an arrow from each load to its clean?",
            "pipeline_slow gets every load's rows into the notebook, one at a time, before it "
            "cleans them. Give clean the load's ref instead: the graph then does the waiting.",
            "Shape: cleaned = [<clean of the load ref of each source>]; return ray.get(<merge "
            "of all cleaned refs, each its own argument>).",
        ),
        solution="""def pipeline(sources):
    cleaned = [clean.remote(load.remote(source)) for source in sources]
    return ray.get(merge.remote(*cleaned))
""",
        try_next="read the report above, then pass each load's ref straight to clean.",
    ),
]
