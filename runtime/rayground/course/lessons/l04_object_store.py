"""Lesson 04 (the object store): put once and share, keep big data out of the driver, free it, and
a slow program (refs hidden in a list, fetched inside one task) diagnosed from its report."""

from __future__ import annotations

import gc
import random
import time
from typing import Any

from ..exercise import Exercise, Grader


def _chunk_sum(array: Any, lo: int, hi: int) -> float:
    time.sleep(0.1)
    return float(array[lo:hi].sum())


def _make_block(i: int) -> Any:
    import numpy as np

    time.sleep(0.1)
    return np.full(500_000, float(i))  # 4 MB


def _mean_of(block: Any) -> float:
    time.sleep(0.1)
    return float(block.mean())


def _sum_of(block: Any) -> float:
    return float(block.sum())


def _grade_share_once(sum_chunks: Any, g: Grader) -> None:
    import numpy as np

    rng = np.random.default_rng()
    n = random.choice([3, 4, 5])
    # About 8 MB (worth sharing, not copying), and a length chosen now that n does not divide:
    # chunking that drops the remainder comes out short. Then a tiny array.
    cases = [(rng.integers(0, 1000, 1_000_000 + random.randint(1, n - 1)).astype(float), n)]
    cases.append((rng.integers(0, 1000, 10).astype(float), 3))
    with g.stand_in(sum_chunks, chunk_sum=g.twins.function("chunk_sum", _chunk_sum)):
        for i, (data, k) in enumerate(cases):
            label = f"array{i}"
            array = g.twins.input(data, label)
            value = g.run(sum_chunks, array, k)
            want = float(data.sum())
            g.expect(
                isinstance(value, int | float) and abs(float(value) - want) < 1e-6 * want,
                f"sum_chunks(array of {len(data):,}, {k}) returned {want:.0f}",
                f"sum_chunks(array of {len(data):,} numbers, {k}) returned {value!r}; expected "
                f"the sum of the whole array, {want:.0f}: the {k} chunks must cover every "
                "element, including the remainder when the length does not divide evenly",
            )
            runs = g.expect_from_tasks(value, "chunk_sum", "the sum", count=k)
            copies = g.twins.pickled(label)
            g.expect(
                copies == 1,
                f"the array was serialized once ({copies} put) and every task read that copy",
                f"the array was serialized {copies} times"
                + (
                    ": it went into every call by value (copied each time). Call "
                    "ray.put(array) once and pass that ref to every chunk_sum"
                    if copies > 1
                    else ": it never reached the tasks. ray.put(array) and pass the ref"
                ),
            )
            if i == 0:
                g.expect_overlap(runs, "the chunk_sum tasks")


def _grade_keep_out(block_means: Any, g: Grader) -> None:
    twins = {
        "make_block": g.twins.function("make_block", _make_block),
        "mean_of": g.twins.function("mean_of", _mean_of),
    }
    n = random.randint(3, 6)
    with g.stand_in(block_means, **twins):
        value = g.run(block_means, n)
    expected = [float(i) for i in range(n)]
    g.expect(
        isinstance(value, list) and value == expected,
        f"block_means({n}) returned {expected}",
        f"block_means({n}) returned {value!r}; expected the mean of each block, {expected}",
    )
    g.expect_from_tasks(value, "mean_of", "the means", count=n)
    runs = g.expect_from_tasks(value, "make_block", "mean_of's inputs", count=n)
    g.expect_stayed("make_block", f"every block (none of the {4 * n} MB came through the notebook)")
    g.expect_overlap(runs, "the make_block tasks")


def _grade_free(block_sums: Any, g: Grader) -> None:
    twins = {
        "make_block": g.twins.function("make_block", _make_block),
        "sum_of": g.twins.function("sum_of", _sum_of),
    }
    n = random.randint(3, 5)
    before = _live_refs()
    with g.stand_in(block_sums, **twins):
        value = g.run(block_sums, n)
    want = [float(i) * 500_000 for i in range(n)]
    g.expect(
        isinstance(value, list) and value == want,
        f"block_sums({n}) returned {want}",
        f"block_sums({n}) returned {value!r}; expected the sum of each block, {want}",
    )
    g.expect_from_tasks(value, "sum_of", "the sums", count=n)
    runs = g.expect_from_tasks(value, "make_block", "sum_of's inputs", count=n)
    g.expect_stayed("make_block", "each block (sum_of received its ref)")
    g.expect_overlap(runs, "the make_block tasks")
    kept = _live_refs() - before
    g.expect(
        not kept,
        f"and nothing holds a ref to the {n} blocks once block_sums returned, so the store "
        "frees them",
        f"{len(kept)} ref(s) made during block_sums are still alive after it returned: "
        "something still holds them (a global list, a cache), so the store must keep those "
        "objects. Keep refs only as long as you need the data",
    )


def _live_refs() -> set[str]:
    """Hex ids of the ObjectRefs alive in this process, directly or inside containers."""
    from ..observe import api

    ref_type = api().ObjectRef
    gc.collect()
    found: set[str] = set()
    # Other threads (the client's) change their lists and dicts meanwhile: iterate over copies,
    # which C makes in one step under the GIL, or the walk fails with "changed size".
    for obj in gc.get_objects():
        if isinstance(obj, ref_type):
            found.add(obj.hex())
        elif isinstance(obj, tuple):
            found.update(o.hex() for o in obj if isinstance(o, ref_type))
        elif isinstance(obj, list | set):
            found.update(o.hex() for o in obj.copy() if isinstance(o, ref_type))
        elif isinstance(obj, dict):
            found.update(o.hex() for o in obj.copy().values() if isinstance(o, ref_type))
    return found


def _grade_diagnose(means_of: Any, g: Grader) -> None:
    twins = {
        "make_block": g.twins.function("make_block", _make_block),
        "mean_of": g.twins.function("mean_of", _mean_of),
    }
    # Blocks chosen now (their values and how many, more than the lesson's six), made by the
    # check's make_block inside the watched run, so the record sees the refs travel.
    values = random.sample(range(-40, 60), random.randint(7, 9))
    with g.stand_in(means_of, **twins):
        maker = twins["make_block"]
        value = g.run(lambda: means_of([maker.remote(v) for v in values]))
    expected = [float(v) for v in values]
    g.expect(
        isinstance(value, list) and value == expected,
        f"means_of on {len(values)} blocks made now returned their means, in order",
        f"means_of(<refs of {len(values)} blocks>) returned {value!r}; expected {expected}, the "
        "mean of each block in the refs' order",
    )
    g.expect_no_finding(
        "get_in_task", "the run analysis found no task waiting in ray.get: the cause is gone"
    )
    runs = g.expect_from_tasks(value, "mean_of", "the means", count=len(values))
    g.expect_stayed("make_block", "every block (each mean_of task received its block's ref)")
    g.expect_overlap(runs, "the mean_of tasks")


EXERCISES = [
    Exercise(
        id="share_once",
        title="Put once, share many times",
        answer="sum_chunks",
        grade=_grade_share_once,
        hints=(
            "ray.put(array) stores the array once and returns a ref; tasks that receive the ref "
            "read the stored array without copying it.",
            "Cut [0, len(array)) into n ranges that cover every element: the last one must reach "
            "the end even when n does not divide the length.",
            "Shape: ref = ray.put(array); bounds from i * len(array) // n; one "
            "chunk_sum.remote(ref, lo, hi) per range; add up ray.get of the list.",
        ),
        solution="""def sum_chunks(array, n):
    ref = ray.put(array)
    step = len(array) // n
    bounds = [(i * step, len(array) if i == n - 1 else (i + 1) * step) for i in range(n)]
    return sum(ray.get([chunk_sum.remote(ref, lo, hi) for lo, hi in bounds]))
""",
        try_next="ray.put the array once and pass the ref to every chunk_sum task.",
    ),
    Exercise(
        id="keep_out",
        title="Big data stays on the cluster",
        answer="block_means",
        grade=_grade_keep_out,
        hints=(
            "make_block.remote(i) returns a ref to a block in the object store; you never need "
            "the block itself in the notebook.",
            "Hand each make_block ref straight to mean_of.remote; only the means come back.",
            "Shape: return ray.get([mean_of.remote(<a make_block ref>) for i in range(n)]).",
        ),
        solution="""def block_means(n):
    return ray.get([mean_of.remote(make_block.remote(i)) for i in range(n)])
""",
        try_next="pass each make_block ref straight to mean_of.remote() and get only the means.",
    ),
    Exercise(
        id="free",
        title="Let go of what you no longer need",
        answer="block_sums",
        grade=_grade_free,
        hints=(
            "An object stays in the store while any ref to it is alive, anywhere.",
            "Keep the block refs in a local variable only: once block_sums returns, they are gone"
            " and the store frees the blocks.",
            "Shape: blocks = [<n make_block refs>] (local); return ray.get([<a sum_of per "
            "block>]); nothing stored outside the function.",
        ),
        solution="""def block_sums(n):
    blocks = [make_block.remote(i) for i in range(n)]
    return ray.get([sum_of.remote(b) for b in blocks])
""",
        try_next="don't keep the block refs anywhere that outlives block_sums.",
    ),
    Exercise(
        id="diagnose",
        title="Diagnose a slow program: refs in a list",
        answer="means_of",
        grade=_grade_diagnose,
        hints=(
            "Run the %%ray_explain cell and read its finding: which task waited in ray.get, and "
            "for how long, while holding a worker.",
            "A ref passed as an argument of its own is resolved before the task starts; refs "
            "inside a list reach the task as refs, so mean_of_listed fetches them itself and "
            "then averages them one after another. Give each block ref to its own mean_of task.",
            "Shape: return ray.get([<a mean_of task given one ref> for each ref]). Nothing is "
            "fetched before the means.",
        ),
        solution="""def means_of(refs):
    return ray.get([mean_of.remote(ref) for ref in refs])
""",
        try_next="read the %%ray_explain report above, then pass each ref to its own mean_of.",
    ),
]
