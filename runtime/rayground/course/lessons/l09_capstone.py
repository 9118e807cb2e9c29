"""Lesson 09 (capstone): map over shards of a real data set, reduce by refs, bootstrap in parallel.

The data set is notebooks/data/penguins.csv (see notebooks/data/README.md). The checks compute
what the answers should give straight from that file, without tasks.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..exercise import Exercise, Grader
from ..observe import api

DATA = Path(__file__).resolve().parents[4] / "notebooks" / "data" / "penguins.csv"


def penguin_rows() -> list[dict[str, str]]:
    # The checkout's copy; else the one next to the notebook (a kernel runs in its folder).
    for path in (DATA, Path.cwd() / "data" / "penguins.csv"):
        if path.exists():
            with open(path, newline="") as f:
                return list(csv.DictReader(f))
    raise FileNotFoundError(
        f"penguins.csv is neither at {DATA} nor in ./data/: open the lesson from the course's "
        "notebooks/ folder"
    )


def expected_totals(rows: list[dict[str, str]]) -> dict[str, tuple[int, float, float]]:
    """Per species: penguins with a body mass, the sum of the masses and of their squares."""
    out: dict[str, tuple[int, float, float]] = {}
    for row in rows:
        if row["body_mass_g"] == "NA":
            continue
        mass = float(row["body_mass_g"])
        n, s, sq = out.get(row["species"], (0, 0.0, 0.0))
        out[row["species"]] = (n + 1, s + mass, sq + mass * mass)
    return out


def _same_totals(got: Any, want: dict[str, tuple[int, float, float]]) -> bool:
    if not isinstance(got, dict) or set(got) != set(want):
        return False
    for species, (n, s, sq) in want.items():
        gn, gs, gsq = got[species]
        if gn != n or abs(gs - s) > 1e-6 * s or abs(gsq - sq) > 1e-6 * sq:
            return False
    return True


def _is_ref(value: Any) -> bool:
    return type(value).__name__ == "ObjectRef"


def _grade_map(map_shards: Any, g: Grader) -> None:
    ray = api()
    rows = penguin_rows()
    value = g.run(map_shards, rows, 4)
    g.expect(
        isinstance(value, list) and len(value) == 4 and all(_is_ref(r) for r in value),
        "map_shards(rows, 4) returned 4 ObjectRefs, without waiting for them",
        f"map_shards(rows, 4) returned {_short(value)}; expected a list of 4 ObjectRefs (the "
        "summarize tasks' refs: don't ray.get them here, the reduce step takes the refs)",
    )
    partials = ray.get(value, timeout=60)
    counted = sum(n for part in partials for n, _, _ in part.values())
    want = expected_totals(rows)
    g.expect(
        counted == sum(n for n, _, _ in want.values()),
        f"the shards covered every row: {counted} penguins with a body mass",
        f"the shards counted {counted} penguins with a body mass; the file has "
        f"{sum(n for n, _, _ in want.values())}: every row must be in exactly one shard",
    )
    tasks = g.record.tasks("summarize")
    g.expect_known(
        lambda: len(tasks) == 4,
        "4 summarize tasks, one per shard",
        f"expected 4 summarize tasks, one per shard; the cluster saw {len(tasks)}",
    )
    g.expect_known(
        lambda: not g.record.submitted_one_by_one(tasks),
        "all shards were submitted together, so they can run side by side",
        "the summarize tasks ran one at a time, each submitted after the previous finished: "
        "submit every shard first",
    )


def _grade_reduce(reduce_partials: Any, g: Grader) -> None:
    ray = api()
    rows = penguin_rows()
    summarize = ray.remote(expected_totals)  # the same partial totals as the lesson's summarize
    partial_refs = [summarize.remote(rows[i::3]) for i in range(3)]
    ray.wait(partial_refs, num_returns=3, timeout=60)
    value = g.run(reduce_partials, partial_refs)
    g.expect(
        _is_ref(value),
        "reduce_partials returned an ObjectRef: the reduce runs on the cluster",
        f"reduce_partials returned {_short(value)}; expected the ObjectRef of one merge task "
        "(the produce step takes it from there)",
    )
    total = ray.get(value, timeout=60)
    g.expect(
        _same_totals(total, expected_totals(rows)),
        "and its value is the right per-species totals",
        f"the merged totals were {_short(total)}; expected {expected_totals(rows)}",
    )
    merges = g.record.tasks("merge")
    made = {ref.hex() for ref in partial_refs}
    g.expect_known(
        lambda: len(merges) == 1 and made <= set(merges[0].deps),
        "one merge task received all the partial refs as arguments",
        f"expected one merge task that receives the {len(made)} partial refs themselves; the "
        f"cluster saw {len(merges)} merge task(s) receiving "
        f"{len(made & {d for m in merges for d in m.deps})} of them: merge.remote(*refs)",
    )


def _grade_bootstrap(confidence_intervals: Any, g: Grader) -> None:
    rows = penguin_rows()
    masses: dict[str, list[float]] = {}
    for row in rows:
        if row["body_mass_g"] != "NA":
            masses.setdefault(row["species"], []).append(float(row["body_mass_g"]))
    value = g.run(confidence_intervals, masses, 60_000)
    g.expect(
        isinstance(value, dict) and set(value) == set(masses),
        f"one interval per species: {', '.join(sorted(masses))}",
        f"confidence_intervals returned {_short(value)}; expected a dict with one (low, high) "
        f"pair per species {sorted(masses)}",
    )
    for species, values in sorted(masses.items()):
        mean = sum(values) / len(values)
        lo, hi = value[species]
        g.expect(
            lo < mean < hi and hi - lo < 400,
            f"{species}: {lo:.0f} to {hi:.0f} g around a mean of {mean:.0f} g",
            f"{species}: the interval ({lo!r}, {hi!r}) should surround the mean {mean:.0f} g "
            "and be narrower than 400 g; return bootstrap_ci's result for that species",
        )
    # bootstrap_ci = ray.remote(bootstrap): its tasks carry the function's name
    tasks = g.record.tasks("bootstrap") + g.record.tasks("bootstrap_ci")
    g.expect_known(
        lambda: len(tasks) == len(masses),
        f"{len(masses)} bootstrap_ci tasks, one per species",
        f"expected {len(masses)} bootstrap_ci tasks, one per species; the cluster saw {len(tasks)}",
    )
    g.expect_parallel(tasks, "the bootstrap_ci tasks")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


EXERCISES = [
    Exercise(
        id="map",
        title="Map: one task per shard",
        answer="map_shards",
        grade=_grade_map,
        hints=(
            "rows[i::n] takes every n-th row starting at i: n such slices cover every row once.",
            "return [summarize.remote(rows[i::n_shards]) for i in range(n_shards)] (no get: "
            "the refs are the answer).",
        ),
        solution="""def map_shards(rows, n_shards):
    return [summarize.remote(rows[i::n_shards]) for i in range(n_shards)]
""",
        try_next="one summarize.remote(shard) per shard, and return the refs.",
    ),
    Exercise(
        id="reduce",
        title="Reduce: merge by refs",
        answer="reduce_partials",
        grade=_grade_reduce,
        hints=(
            "merge takes any number of partial results: merge.remote(a, b, c).",
            "return merge.remote(*partial_refs): the star passes each ref as its own argument.",
        ),
        solution="""def reduce_partials(partial_refs):
    return merge.remote(*partial_refs)
""",
        try_next="return merge.remote(*partial_refs) without getting the partials first.",
    ),
    Exercise(
        id="bootstrap",
        title="Produce: intervals in parallel",
        answer="confidence_intervals",
        grade=_grade_bootstrap,
        hints=(
            "One bootstrap_ci.remote(values, n_resamples) per species, all submitted first.",
            "refs = {s: bootstrap_ci.remote(v, n_resamples) for s, v in masses.items()}; then "
            "get them all at once and build the dict.",
        ),
        solution="""def confidence_intervals(masses, n_resamples):
    refs = {s: bootstrap_ci.remote(v, n_resamples) for s, v in masses.items()}
    values = ray.get(list(refs.values()))
    return dict(zip(refs, values))
""",
        try_next="submit one bootstrap_ci task per species, then get them together.",
    ),
]
