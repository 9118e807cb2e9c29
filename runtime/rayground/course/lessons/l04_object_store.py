"""Lesson 04 (the object store): put once and share, keep big data out of the driver, free it."""

from __future__ import annotations

import gc
import time
from typing import Any

from ..exercise import Exercise, Grader


def _grade_share_once(sum_chunks: Any, g: Grader) -> None:
    import numpy as np

    array = np.arange(1_000_000, dtype=np.float64)  # 8 MB: worth sharing, not copying
    value = g.run(sum_chunks, array, 4)
    expected = float(array.sum())
    g.expect(
        value is not None and abs(float(value) - expected) < 1e-6 * expected,
        f"sum_chunks(8 MB array, 4) returned {expected:.0f}",
        f"sum_chunks(array, 4) returned {value!r}; expected the sum of the whole array, "
        f"{expected:.0f}: add up the four chunk sums",
    )
    chunks = g.record.tasks("chunk_sum")
    g.expect_known(
        lambda: len(chunks) == 4,
        "4 chunk_sum tasks ran",
        f"expected 4 chunk_sum tasks (one per chunk); the cluster saw {len(chunks)}",
    )
    shared = g.record.put_refs_passed(chunks)
    g.expect_known(
        lambda: len(shared) == 1 and all(shared <= set(c.deps) for c in chunks),
        "all 4 tasks read the same put object: the array was stored once and never copied "
        "into the tasks' arguments",
        "the tasks did not share one put object"
        + (
            ": the array went into every call by value (copied each time). Call "
            "ray.put(array) once and pass that ref to every chunk_sum"
            if not shared
            else f": they received {len(shared)} different put objects. Put the array once"
        ),
    )
    g.expect_parallel(chunks, "the chunk_sum tasks")


def _grade_keep_out(block_means: Any, g: Grader) -> None:
    value = g.run(block_means, 4)
    expected = [float(i) for i in range(4)]
    g.expect(
        isinstance(value, list) and [round(float(v), 6) for v in value] == expected,
        f"block_means(4) returned {expected}",
        f"block_means(4) returned {value!r}; expected the mean of each block, {expected}",
    )
    makes, means = g.record.tasks("make_block"), g.record.tasks("mean_of")
    g.expect_known(
        lambda: len(makes) == 4 and len(means) == 4,
        "4 make_block and 4 mean_of tasks ran",
        f"expected 4 make_block and 4 mean_of tasks; the cluster saw {len(makes)} and {len(means)}",
    )
    made = {oid for s in makes for oid in s.returns}
    received = {d for s in means for d in s.deps}
    g.expect_known(
        lambda: made <= received,
        "every block went from make_block to mean_of by reference: none of the 16 MB came "
        "through the notebook",
        "mean_of got blocks as values, so each 4 MB block was copied into the notebook and "
        "back out: pass make_block's ref straight to mean_of.remote()",
    )
    g.expect_parallel(makes + means, "the block tasks")


def _grade_free(block_sums: Any, g: Grader) -> None:
    from ..observe import backend

    value = g.run(block_sums, 3)
    g.expect(
        isinstance(value, list) and [round(float(v)) for v in value] == [0, 500_000, 1_000_000],
        "block_sums(3) returned [0.0, 500000.0, 1000000.0]",
        f"block_sums(3) returned {value!r}; expected the sum of each block, "
        "[0.0, 500000.0, 1000000.0]",
    )
    made = {oid for s in g.record.tasks("make_block") for oid in s.returns}
    g.expect_known(
        lambda: len(made) == 3,
        "3 blocks were made by make_block tasks",
        f"expected 3 make_block tasks; the cluster saw {len(made)}",
    )
    g.expect_parallel(g.record.tasks("make_block"), "the make_block tasks")
    received = {d for s in g.record.tasks("sum_of") for d in s.deps}
    g.expect_known(
        lambda: made <= received,
        "each block went to sum_of by reference",
        "sum_of got blocks as values (the notebook fetched them first): pass the refs",
    )
    left = _still_stored(made) if backend() == "rayground" else set()
    g.expect_known(
        lambda: not left,
        "and all 3 were freed once block_sums returned: nothing holds a ref to them",
        f"{len(left)} of the 3 blocks are still in the object store after block_sums returned: "
        "something still holds their refs (a global list, a cache). Keep refs only as long "
        "as you need the data",
    )


def _still_stored(oids: set[str], within_s: float = 2.0) -> set[str]:
    """Which of `oids` the store still holds after giving dropped refs time to be released."""
    from rayground.util import state

    deadline = time.monotonic() + within_s
    while True:
        gc.collect()
        left = {r["object_id"] for r in state.list_objects()} & oids
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


EXERCISES = [
    Exercise(
        id="share_once",
        title="Put once, share many times",
        answer="sum_chunks",
        grade=_grade_share_once,
        hints=(
            "ray.put(array) stores the array once and returns a ref; tasks that receive the "
            "ref read the stored array without copying it.",
            "Put the array, then start chunk_sum.remote(ref, lo, hi) for each chunk, and add "
            "up ray.get of the list.",
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
            "make_block.remote(i) returns a ref to a block in the object store; you never "
            "need the block itself in the notebook.",
            "[mean_of.remote(make_block.remote(i)) for i in range(n)], then one ray.get.",
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
            "Keep the block refs in a local variable only: once block_sums returns, they are "
            "gone and the store frees the blocks.",
        ),
        solution="""def block_sums(n):
    blocks = [make_block.remote(i) for i in range(n)]
    return ray.get([sum_of.remote(b) for b in blocks])
""",
        try_next="don't keep the block refs anywhere that outlives block_sums.",
    ),
]
