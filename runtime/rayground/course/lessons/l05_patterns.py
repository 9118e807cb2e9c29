"""Lesson 05 (patterns and anti-patterns): put once, batch tiny work, no get inside tasks, and a
wasteful program diagnosed from its run analysis."""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np

from ..exercise import Exercise, Grader

MAX_BATCHES = 64


def _column_mean(t: Any, col: int) -> float:
    time.sleep(0.02)
    return float(t[:, col].mean())


def _cube(n: int) -> int:
    return n**3


def _cubes_of_batch(chunk: list[int]) -> int:
    time.sleep(0.03)  # long enough that batches running side by side can be seen doing so
    return sum(n**3 for n in chunk)


def _fetch_size(name: str) -> int:
    time.sleep(0.15)  # stands for a download
    return len(name) * 100


def _add_sizes(*sizes: int) -> int:
    return sum(sizes)


def _grade_put_once(all_column_means: Any, g: Grader) -> None:
    data = np.random.default_rng().random((2_000, 300))  # 4.6 MiB: worth sharing
    # Columns chosen now, one of them asked for twice.
    columns = random.sample(range(300), 7)
    columns.insert(random.randrange(8), columns[0])
    table = g.twins.input(data, "table")
    with g.stand_in(all_column_means, column_mean=g.twins.function("column_mean", _column_mean)):
        value = g.run(all_column_means, table, columns)
    expected = [float(data[:, c].mean()) for c in columns]
    g.expect(
        isinstance(value, list) and len(value) == len(columns) and np.allclose(value, expected),
        f"it returned the {len(columns)} column means, in the order of the columns asked for",
        f"all_column_means(table, {columns}) returned {_short(value)}; expected "
        f"{[round(v, 4) for v in expected]} (one mean per column, in the order of the columns "
        "asked for, a column asked for twice included twice)",
    )
    runs = g.expect_from_tasks(value, "column_mean", "every mean")
    g.expect(
        len(runs) >= len(set(columns)),
        f"{len(runs)} column_mean tasks computed them",
        f"only {len(runs)} column_mean task(s) made the {len(set(columns))} different means",
    )
    g.expect_no_finding("large_by_value", "the run analysis saw no large object passed by value")
    copies = g.twins.pickled("table")
    g.expect(
        copies == 1,
        "the table was serialized once: stored once and read in place by every task",
        f"the 4.6 MiB table was serialized {copies} times"
        + (
            ": it was passed by value to every task (or put once per task), so it was stored "
            "again for each. ray.put(table) once, before the loop, and pass that ref"
            if copies > 1
            else ": it never reached the tasks"
        ),
    )


def _grade_batches(sum_of_cubes: Any, g: Grader) -> None:
    twins = {
        "cube": g.twins.function("cube", _cube),
        "cubes_of_batch": g.twins.function("cubes_of_batch", _cubes_of_batch),
    }
    # A length chosen now that is prime (no chunk size divides it), and a tiny list.
    size = random.choice([2_003, 2_477, 2_851, 3_001])
    cases = [random.sample(range(-5_000, 5_000), size), [random.randint(1, 9) for _ in range(5)]]
    with g.stand_in(sum_of_cubes, **twins):
        for i, numbers in enumerate(cases):
            value = g.run(sum_of_cubes, numbers)
            expected = sum(n**3 for n in numbers)
            g.expect(
                value == expected,
                f"sum_of_cubes({len(numbers)} numbers) returned {expected}",
                f"sum_of_cubes({len(numbers)} numbers chosen now) returned {_short(value)}; "
                f"expected {expected}: every number must be in exactly one batch",
            )
            singles = g.twins.runs(value, "cube")
            g.expect(
                not singles,
                "no tiny one-number tasks",
                f"{len(singles)} cube tasks ran, one per number: each costs more to schedule "
                "than the work it does. Give each task a batch of numbers (cubes_of_batch)",
            )
            batches = g.expect_from_tasks(value, "cubes_of_batch", "the total")
            if i == 0:
                g.expect(
                    2 <= len(batches) <= MAX_BATCHES,
                    f"{len(batches)} cubes_of_batch tasks did the work: few enough that "
                    "scheduling is cheap, enough to keep every CPU busy",
                    f"expected between 2 and {MAX_BATCHES} cubes_of_batch tasks (a few per "
                    f"CPU); {len(batches)} made the total. Split the numbers into chunks and send "
                    "each chunk to one cubes_of_batch task",
                )
                g.expect_no_finding("tiny_tasks", "the run analysis saw no tiny tasks")
                g.expect_overlap(batches, "the batches")


def _grade_no_get_in_task(total_size: Any, g: Grader) -> None:
    twins = {
        "fetch_size": g.twins.function("fetch_size", _fetch_size),
        "add_sizes": g.twins.function("add_sizes", _add_sizes),
    }
    letters = "abcdefghijklmnopqrstuvwxyz"
    names = ["".join(random.choices(letters, k=random.randint(1, 12))) for _ in range(6)]
    with g.stand_in(total_size, **twins):
        value = g.run(total_size, names)
    expected = sum(len(n) * 100 for n in names)
    g.expect(
        value == expected,
        f"total_size({names}) returned {expected}",
        f"total_size({names}) returned {_short(value)}; expected {expected}",
    )
    g.expect_from_tasks(value, "add_sizes", "the total", count=1)
    fetches = g.expect_from_tasks(value, "fetch_size", "add_sizes' inputs", count=len(names))
    g.expect_stayed("fetch_size", "the sizes (add_sizes received their refs)")
    g.expect_no_finding(
        "get_in_task", "no task sat blocked in ray.get: every worker did work the whole time"
    )
    others = sorted({s.name for s in g.record.tasks()} - {"fetch_size", "add_sizes"})
    g.expect_known(
        lambda: not others,
        "only fetch_size and add_sizes tasks ran: nothing waited inside a task",
        f"a task of your own ({', '.join(others)}) ran as well and waited inside for the "
        "others: call fetch_size and add_sizes from the notebook and pass the refs, "
        "add_sizes.remote(*refs)",
    )
    g.expect_overlap(fetches, "the fetch_size tasks")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _score(weights: Any, rows: list[int]) -> float:
    time.sleep(0.05)
    return float(weights[rows].sum())


def _grade_diagnose(scores: Any, g: Grader) -> None:
    data = np.random.default_rng().random((1_000, 500))  # 3.8 MiB, as the lesson's weights
    # Row sets chosen now: how many (more than the lesson's), and which rows (an empty set too).
    row_sets = [
        random.sample(range(1_000), random.randint(1, 40)) for _ in range(random.randint(7, 9))
    ]
    row_sets.insert(random.randrange(len(row_sets)), [])
    weights = g.twins.input(data, "weights")
    with g.stand_in(scores, score=g.twins.function("score", _score)):
        value = g.run(scores, weights, row_sets)
    expected = [float(data[rows].sum()) for rows in row_sets]
    g.expect(
        isinstance(value, list) and len(value) == len(row_sets) and np.allclose(value, expected),
        f"scores returned the {len(row_sets)} scores, in the order of the row sets",
        f"scores(weights, <{len(row_sets)} row sets>) returned {_short(value)}; expected "
        f"{[round(v, 3) for v in expected]}, one score per row set, in order",
    )
    runs = g.expect_from_tasks(value, "score", "every score", count=len(row_sets))
    g.expect_no_finding(
        "large_by_value", "the run analysis no longer finds a large object passed by value"
    )
    copies = g.twins.pickled("weights")
    g.expect(
        copies == 1,
        "the weights were serialized once: stored once, read in place by every task",
        f"the 3.8 MiB weights were serialized {copies} times, once per task: that is what the "
        "report found. ray.put(weights) once, before the loop, and pass that ref",
    )
    g.expect_overlap(runs, "the score tasks", min_speedup=1.0)


EXERCISES = [
    Exercise(
        id="put_once",
        title="Share a big table: put it once",
        answer="all_column_means",
        grade=_grade_put_once,
        hints=(
            "ray.put(table) stores the table in the object store and returns a ref.",
            "Put it once, before the loop, and hand that same ref to every task; the task "
            "receives the array itself.",
            "Shape: table_ref = ray.put(table); return ray.get([column_mean.remote(table_ref, "
            "...) for c in columns]).",
        ),
        solution="""def all_column_means(table, columns):
    table_ref = ray.put(table)
    return ray.get([column_mean.remote(table_ref, c) for c in columns])
""",
        try_next="ray.put(table) once, then column_mean.remote(table_ref, c) for each column.",
    ),
    Exercise(
        id="batches",
        title="Batch tiny work",
        answer="sum_of_cubes",
        grade=_grade_batches,
        hints=(
            "numbers[i:i + size] is one chunk; range(0, len(numbers), size) gives the starts, and"
            " covers the remainder too.",
            "A few chunks per CPU is plenty (about 8 in all, and at least 1 number each); each "
            "chunk goes to one cubes_of_batch task.",
            "Shape: size = <about an eighth of the numbers, at least 1>; chunks from "
            "range(0, len(numbers), size); "
            "add up ray.get of one cubes_of_batch per chunk.",
        ),
        solution="""def sum_of_cubes(numbers):
    size = max(1, len(numbers) // 8)
    chunks = [numbers[i : i + size] for i in range(0, len(numbers), size)]
    return sum(ray.get([cubes_of_batch.remote(chunk) for chunk in chunks]))
""",
        try_next="split the numbers into about 8 chunks and send each to cubes_of_batch.",
    ),
    Exercise(
        id="no_get_in_task",
        title="Compose with refs, not get inside a task",
        answer="total_size",
        grade=_grade_no_get_in_task,
        hints=(
            "A task can take refs as arguments; the cluster waits for them before it starts.",
            "Submit the fetch_size tasks from the notebook, then pass all their refs to one "
            "add_sizes task; get only its result.",
            "Shape: refs = [<a fetch_size per name>]; return ray.get(add_sizes.remote(*...)).",
        ),
        solution="""def total_size(names):
    refs = [fetch_size.remote(n) for n in names]
    return ray.get(add_sizes.remote(*refs))
""",
        try_next="pass the fetch_size refs straight to add_sizes.remote(*refs).",
    ),
    Exercise(
        id="diagnose",
        title="Diagnose a wasteful program",
        answer="scores",
        grade=_grade_diagnose,
        hints=(
            "Run the %%ray_explain cell and read its finding: what was copied, how often, and "
            "how big was it?",
            "Every score task got its own copy of the weights. Store them in the object store "
            "once and hand each task the ref.",
            "Shape: ref = <the weights, put once>; return ray.get([<score of ref and each row "
            "set>]).",
        ),
        solution="""def scores(weights, row_sets):
    weights_ref = ray.put(weights)
    return ray.get([score.remote(weights_ref, rows) for rows in row_sets])
""",
        try_next="read the %%ray_explain report above, then fix what it found.",
    ),
]
