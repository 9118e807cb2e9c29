"""Lesson 05 (patterns and anti-patterns): put once, batch tiny work, no get inside tasks."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exercise import Exercise, Grader

MAX_BATCHES = 64


def _findings(g: Grader) -> set[str]:
    report = g.record.report
    return {f.code for f in report.findings} if report is not None else set()


def _grade_put_once(all_column_means: Any, g: Grader) -> None:
    table = np.random.default_rng(5).random((2_000, 300))  # 4.6 MiB: worth sharing
    columns = [0, 5, 17, 42, 99, 150, 201, 299]
    value = g.run(all_column_means, table, columns)
    expected = [float(table[:, c].mean()) for c in columns]
    g.expect(
        isinstance(value, list) and len(value) == len(columns) and np.allclose(value, expected),
        f"it returned the {len(columns)} column means, in the order of the columns asked for",
        f"all_column_means(table, {columns}) returned {_short(value)}; expected "
        f"{[round(v, 4) for v in expected]} (one mean per column, in the order of the columns "
        "asked for)",
    )
    tasks = g.record.tasks("column_mean")
    g.expect_known(
        lambda: len(tasks) == len(columns),
        f"{len(columns)} column_mean tasks ran, one per column",
        f"expected {len(columns)} column_mean tasks, one per column; the cluster saw {len(tasks)}",
    )
    g.expect_known(
        lambda: "large_by_value" not in _findings(g),
        "the table was never passed by value",
        "the 4.6 MiB table was passed by value to every task, so it was serialized and stored "
        "once per task: ray.put(table) once and pass the ref",
    )
    puts = g.record.put_refs_passed(tasks)
    g.expect_known(
        lambda: len(puts) == 1 and all(puts <= set(t.deps) for t in tasks),
        "every task received the same put ref: the table was stored once and read in place",
        f"the tasks received {len(puts)} different put refs: put it once, before the loop, "
        "and hand the same ref to every task",
    )


def _grade_batches(sum_of_cubes: Any, g: Grader) -> None:
    numbers = list(range(1, 3_001))
    value = g.run(sum_of_cubes, numbers)
    expected = sum(n**3 for n in numbers)
    g.expect(
        value == expected,
        f"sum_of_cubes(1..3000) returned {expected}",
        f"sum_of_cubes(1..3000) returned {_short(value)}; expected {expected}",
    )
    batches = g.record.tasks("cubes_of_batch")
    singles = g.record.tasks("cube")
    g.expect_known(
        lambda: not singles and "tiny_tasks" not in _findings(g),
        "no tiny one-number tasks",
        f"{len(singles)} cube tasks ran, one per number: each costs more to schedule than the "
        "work it does. Give each task a batch of numbers (cubes_of_batch)",
    )
    g.expect_known(
        lambda: 2 <= len(batches) <= MAX_BATCHES,
        f"{len(batches)} cubes_of_batch tasks did the work: few enough that scheduling is "
        "cheap, enough to keep every CPU busy",
        f"expected between 2 and {MAX_BATCHES} cubes_of_batch tasks (a few per CPU); the "
        f"cluster saw {len(batches)}. Split the numbers into chunks and send each chunk to "
        "one cubes_of_batch task",
    )
    g.expect_known(
        lambda: not g.record.submitted_one_by_one(batches),
        "every batch was submitted before the first result was awaited",
        "the batches ran one at a time, each submitted after the previous one finished: "
        "submit every batch first, then get the whole list",
    )


def _grade_no_get_in_task(total_size: Any, g: Grader) -> None:
    names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    value = g.run(total_size, names)
    expected = sum(len(n) * 100 for n in names)
    g.expect(
        value == expected,
        f"total_size({names}) returned {expected}",
        f"total_size({names}) returned {_short(value)}; expected {expected}",
    )
    fetches, totals = g.record.tasks("fetch_size"), g.record.tasks("add_sizes")
    g.expect_known(
        lambda: len(fetches) == len(names),
        f"{len(names)} fetch_size tasks ran, one per name",
        f"expected {len(names)} fetch_size tasks; the cluster saw {len(fetches)}",
    )
    g.expect_known(
        lambda: "get_in_task" not in _findings(g),
        "no task sat blocked in ray.get: every worker did work the whole time it was held",
        "a task called ray.get and held its worker while it waited: pass the fetch_size refs "
        "as arguments, add_sizes.remote(*refs), and the cluster resolves them before add_sizes "
        "starts",
    )
    made = {oid for t in fetches for oid in t.returns}
    g.expect_known(
        lambda: len(totals) == 1 and made <= set(totals[0].deps),
        "one add_sizes task received every fetch_size ref as an argument",
        f"expected one add_sizes task that receives all the fetch_size refs; the cluster saw "
        f"{len(totals)} add_sizes task(s) and they got "
        f"{len(made & {d for t in totals for d in t.deps})} of the {len(made)} refs",
    )
    g.expect_parallel(fetches, "the fetch_size tasks")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


EXERCISES = [
    Exercise(
        id="put_once",
        title="Share a big table: put it once",
        answer="all_column_means",
        grade=_grade_put_once,
        hints=(
            "ray.put(table) stores the table in the object store and returns a ref.",
            "Call ray.put once, before the loop; pass that same ref to every "
            "column_mean.remote(ref, c). The task receives the array itself.",
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
            "numbers[i:i + size] is one chunk; range(0, len(numbers), size) gives the starts.",
            "A few chunks per CPU is plenty: size = len(numbers) // 8. Send each chunk to "
            "cubes_of_batch.remote(chunk), then add up ray.get of all of them.",
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
            "refs = [fetch_size.remote(n) for n in names]; then ray.get(add_sizes.remote(*refs)).",
        ),
        solution="""def total_size(names):
    refs = [fetch_size.remote(n) for n in names]
    return ray.get(add_sizes.remote(*refs))
""",
        try_next="pass the fetch_size refs straight to add_sizes.remote(*refs).",
    ),
]
