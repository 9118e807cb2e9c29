"""Lesson 09 (capstone): map over shards of a real data set, reduce by refs, bootstrap in parallel,
a sturdy produce step that needs put, wait, an actor, retries and resources, and a map cut too
fine (one task per penguin) diagnosed from its report.

The data set is notebooks/data/penguins.csv (see notebooks/data/README.md). The checks compute
what the answers should give straight from that file, without tasks.
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
import time
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


def _summarize(shard: list[dict[str, str]]) -> dict[str, tuple[int, float, float]]:
    time.sleep(0.1)  # long enough that shards running side by side can be seen doing so
    return expected_totals(shard)


def _merge(*partials: dict) -> dict[str, tuple[int, float, float]]:
    total: dict[str, tuple[int, float, float]] = {}
    for part in partials:
        for species, (n, s, sq) in part.items():
            tn, ts, tsq = total.get(species, (0, 0.0, 0.0))
            total[species] = (tn + n, ts + s, tsq + sq)
    return total


def bootstrap(values: list[float], n_resamples: int, seed: int = 0) -> tuple[float, float]:
    """The lesson's bootstrap, the same code: the check computes the exact intervals with it."""
    import numpy as np

    rng = np.random.default_rng(seed)
    data = np.asarray(values)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, 5_000):
        stop = min(start + 5_000, n_resamples)
        picks = rng.integers(0, len(data), size=(stop - start, len(data)))
        means[start:stop] = data[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def _bootstrap_slowly(values: list[float], n_resamples: int, seed: int = 0) -> tuple:
    time.sleep(0.15)  # so that intervals computed side by side can be seen doing so
    return bootstrap(values, n_resamples, seed)


def _sample(rows: list[dict[str, str]], not_divisible_by: int = 1) -> list[dict[str, str]]:
    """Rows chosen now: most of the file, in an order of its own; a count that
    `not_divisible_by` does not divide, so chunking that drops the remainder comes out short."""
    sizes = range(len(rows) * 2 // 3, len(rows) + 1)
    fits = [n for n in sizes if not_divisible_by == 1 or n % not_divisible_by]
    return random.sample(rows, random.choice(fits))


def _grade_map(map_shards: Any, g: Grader) -> None:
    ray = api()
    n = random.choice([3, 4, 5])
    rows = _sample(penguin_rows(), not_divisible_by=n)
    with g.stand_in(map_shards, summarize=g.twins.function("summarize", _summarize)):
        value = g.run(map_shards, rows, n)
    g.expect(
        isinstance(value, list) and len(value) == n and all(_is_ref(r) for r in value),
        f"map_shards(rows, {n}) returned {n} ObjectRefs, without waiting for them",
        f"map_shards(rows, {n}) returned {_short(value)}; expected a list of {n} ObjectRefs "
        "(the summarize tasks' refs: don't ray.get them here, the reduce step takes the refs)",
    )
    partials = ray.get(value, timeout=60)
    runs = g.expect_from_tasks(partials, "summarize", "the partial totals", count=n)
    want = expected_totals(rows)
    g.expect(
        _same_totals(_merge(*partials), want),
        f"together the shards covered each of the {len(rows)} rows exactly once",
        f"the partial totals add up to {_short(_merge(*partials))}; the {len(rows)} rows give "
        f"{_short(want)}: every row must be in exactly one shard",
    )
    sizes = sorted(sum(c for c, _, _ in part.values()) for part in partials)
    fair = sum(sizes) / n
    g.expect(
        sizes[0] >= fair / 2,
        f"the shards are balanced ({', '.join(map(str, sizes))} penguins with a mass each)",
        f"the shards hold {', '.join(map(str, sizes))} penguins: one shard does most of the "
        "work while the others wait. Give each shard about the same number of rows "
        "(rows[i::n_shards])",
    )
    g.expect_overlap(runs, "the summarize tasks")


def _grade_reduce(reduce_partials: Any, g: Grader) -> None:
    ray = api()
    rows = _sample(penguin_rows())
    k = random.randint(2, 5)
    summarize = g.twins.function("summarize", _summarize)
    partial_refs = [summarize.remote(rows[i::k]) for i in range(k)]
    ray.wait(partial_refs, num_returns=k, timeout=60, fetch_local=False)
    with g.stand_in(reduce_partials, merge=g.twins.function("merge", _merge)):
        value = g.run(reduce_partials, partial_refs)
    g.expect(
        _is_ref(value),
        "reduce_partials returned an ObjectRef: the reduce runs on the cluster",
        f"reduce_partials returned {_short(value)}; expected the ObjectRef of one merge task "
        "(the produce step takes it from there)",
    )
    g.expect_stayed("summarize", "the partial totals (merge received their refs)")
    g.expect_no_finding("get_in_task", "no task sat blocked in ray.get waiting for others")
    others = sorted({s.name for s in g.record.tasks()} - {"merge"})
    g.expect_known(
        lambda: not others,
        "the only task it ran was the merge",
        f"a task of your own ({', '.join(others)}) ran as well and waited inside for the "
        "merge: return merge.remote(*partial_refs) itself",
    )
    total = ray.get(value, timeout=60)
    g.expect_from_tasks(total, "merge", "the merged totals", count=1)
    g.expect_from_tasks(total, "summarize", "merge's inputs", count=k)
    g.expect(
        _same_totals(total, expected_totals(rows)),
        f"and its value is the right per-species totals of all {k} partials",
        f"the merged totals were {_short(total)}; expected {expected_totals(rows)}",
    )


def _grade_bootstrap(confidence_intervals: Any, g: Grader) -> None:
    masses: dict[str, list[float]] = {}
    for row in _sample(penguin_rows()):
        if row["body_mass_g"] != "NA":
            masses.setdefault(row["species"], []).append(float(row["body_mass_g"]))
    n_resamples = random.randrange(4_000, 12_000, 500)  # chosen now: it must be passed on
    twin = g.twins.function("bootstrap", _bootstrap_slowly)
    with g.stand_in(confidence_intervals, bootstrap_ci=twin):
        value = g.run(confidence_intervals, masses, n_resamples)
    g.expect(
        isinstance(value, dict) and set(value) == set(masses),
        f"one interval per species: {', '.join(sorted(masses))}",
        f"confidence_intervals returned {_short(value)}; expected a dict with one (low, high) "
        f"pair per species {sorted(masses)}",
    )
    runs = g.expect_from_tasks(value, "bootstrap", "the intervals", count=len(masses))
    for species, values in sorted(masses.items()):
        want = bootstrap(values, n_resamples)
        got = tuple(value[species]) if isinstance(value[species], tuple | list) else ()
        g.expect(
            len(got) == 2 and all(abs(a - b) < 1e-6 for a, b in zip(got, want, strict=True)),
            f"{species}: {want[0]:.0f} to {want[1]:.0f} g, the bootstrap of its "
            f"{len(values)} masses with {n_resamples:,} resamples",
            f"{species}: the interval was {_short(value[species])}; the bootstrap of its "
            f"{len(values)} masses with n_resamples={n_resamples:,} gives "
            f"({want[0]:.1f}, {want[1]:.1f}): pass each species' own masses and n_resamples "
            "to bootstrap_ci",
        )
    g.expect_overlap(runs, "the bootstrap_ci tasks")


class _Board:
    """The lesson's Board, which also notes when (by its own clock) each interval was posted."""

    def __init__(self) -> None:
        self.done: dict[str, Any] = {}
        self.at: dict[str, float] = {}

    def post(self, species: str, interval: Any) -> int:
        self.done[species] = interval
        self.at[species] = time.time()
        return len(self.done)

    def results(self) -> dict[str, Any]:
        return dict(self.done)

    def posted_at(self) -> dict[str, float]:
        return dict(self.at)


def _grade_sturdy(produce: Any, g: Grader) -> None:
    ray = api()
    masses: dict[str, list[float]] = {}
    for row in _sample(penguin_rows()):
        if row["body_mass_g"] != "NA":
            masses.setdefault(row["species"], []).append(float(row["body_mass_g"]))
    # Chosen now: the slow species comes first (an answer that posts in submission order, or
    # waits for all, posts the quick ones only after it); another one fails on its first try.
    names = random.sample(sorted(masses), len(masses))
    slow, flaky = names[0], names[1]
    masses = {name: masses[name] for name in names}
    n_resamples = random.randrange(3_000, 8_000, 500)
    slow_s = 1.5

    with tempfile.TemporaryDirectory(prefix="rg-capstone-") as tmp:

        def bootstrap_species(all_masses: dict, species: str, n: int, seed: int = 0) -> tuple:
            from rayground.course.observe import api as current

            marker = os.path.join(tmp, species)
            with open(marker, "a") as f:
                f.write(current().get_runtime_context().get_task_id() + "\n")
            with open(marker) as f:
                attempt = len(f.read().splitlines())
            if species == flaky and attempt == 1:
                raise ConnectionError("the worker's node went away (simulated by the check)")
            time.sleep(slow_s if species == slow else 0.15)
            return bootstrap(all_masses[species], n, seed)

        board = g.twins.actor("Board", _Board).remote()
        shared = g.twins.input(masses, "masses")
        twin = g.twins.function("bootstrap_species", bootstrap_species)
        with g.stand_in(produce, bootstrap_species=twin):
            value = g.run(produce, shared, n_resamples, board)
        attempts = {
            name: Path(tmp, name).read_text().split() for name in masses if Path(tmp, name).exists()
        }
    posted = ray.get(board.posted_at.remote(), timeout=30)
    ray.kill(board)
    g.expect(
        isinstance(value, dict) and set(value) == set(masses),
        f"produce returned the board's intervals, one per species ({', '.join(names)})",
        f"produce returned {_short(value)}; expected the board's results: a dict with one "
        f"(low, high) per species {sorted(masses)}",
    )
    runs = g.expect_from_tasks(value, "bootstrap_species", "the intervals", count=len(masses))
    for species, values in masses.items():
        want = bootstrap(values, n_resamples)
        got = tuple(value[species]) if isinstance(value[species], tuple | list) else ()
        g.expect(
            len(got) == 2 and all(abs(a - b) < 1e-6 for a, b in zip(got, want, strict=True)),
            f"{species}: {want[0]:.0f} to {want[1]:.0f} g ({n_resamples:,} resamples)",
            f"{species}: the interval was {_short(value[species])}; with n_resamples="
            f"{n_resamples:,} its bootstrap gives ({want[0]:.1f}, {want[1]:.1f})",
        )
    pickled = g.twins.pickled("masses")
    g.expect(
        pickled == 1,
        "the masses went into the object store once (ray.put) and every task got the ref",
        f"the masses were serialized {pickled} times, once per task: put them in the object "
        "store once (ray.put) and pass the ref",
    )
    tries = attempts.get(flaky, [])
    g.expect(
        len(tries) >= 2 and len(set(tries)) == 1,
        f"{flaky}'s task failed once and the cluster retried the same task",
        f"{flaky}'s bootstrap ran as {len(set(tries))} different task(s) over {len(tries)} "
        "attempt(s): retry it in the cluster (.options(max_retries=..., "
        "retry_exceptions=True)), not by submitting a new task",
    )
    tasks = g.record.tasks("bootstrap_species")
    asked = sorted({t.resources.get("CPU", 0.0) for t in tasks})
    g.expect_known(
        lambda: asked == [2.0],
        "each bootstrap_species task asked for the 2 CPUs it uses",
        f"the bootstrap_species tasks asked for {asked} CPU(s) each; they use two cores: ask "
        "for 2 with .options(num_cpus=2)",
    )
    # The order things happened in, each by the clock of the process it happened in: the tasks'
    # ends (their workers) and the posts (the board). No margins on a busy machine's timing.
    ended = {
        name: max(r.end for r in g.twins.runs(value[name], "bootstrap_species")) for name in names
    }
    by_end = sorted(names, key=ended.__getitem__)
    # Quick species whose task ended well before the slow one: a driver taking results as they
    # finish has them in hand (and posts them) before the slow result exists.
    clear = [name for name in by_end if name != slow and ended[name] < ended[slow] - 0.3]
    g.expect(
        clear,
        f"{', '.join(clear)}'s task ended well before {slow}'s slow one: all were submitted "
        "at once",
        f"{slow}'s slow task ended before the quick ones ({', '.join(by_end)}): the quick "
        "species' tasks started only after it. Submit every task before you wait for any",
    )
    inf = float("inf")
    late = [name for name in clear if posted.get(name, inf) > posted.get(slow, inf)]
    g.expect(
        not late,
        f"the board got {', '.join(clear)} before {slow}: results taken as they finished "
        "(ray.wait)",
        f"the board got {', '.join(late)} only after {slow}, although their tasks had ended well "
        f"before: the quick species were posted only after {slow}'s slow task. Take results as "
        "they finish with ray.wait and post each one right away",
    )
    g.expect_overlap(runs, "the bootstrap_species tasks")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def _grade_diagnose(species_totals: Any, g: Grader) -> None:
    rows = _sample(penguin_rows(), not_divisible_by=4)  # rows chosen now, in an order of their own
    twins = {
        # The lesson's summarize, as quick as it is there: what is tiny is the point.
        "summarize": g.twins.function("summarize", expected_totals),
        "merge": g.twins.function("merge", _merge),
    }
    with g.stand_in(species_totals, **twins):
        value = g.run(species_totals, rows)
    want = expected_totals(rows)
    g.expect(
        _same_totals(value, want),
        f"species_totals on {len(rows)} rows chosen now returned the right per-species totals",
        f"species_totals(<{len(rows)} rows>) returned {_short(value)}; expected {_short(want)}:"
        " every row counted exactly once",
    )
    g.expect_from_tasks(value, "merge", "the result", count=1)
    g.expect_no_finding(
        "tiny_tasks", "the run analysis found no tasks too small to be worth sending"
    )
    tasks = len(g.twins.runs(value, "summarize"))
    most = 4 * max(int(g.cpus()), 1)
    g.expect(
        2 <= tasks <= most,
        f"the rows were cut into {tasks} summarize tasks: a few, each worth sending",
        f"the rows were cut into {tasks} summarize task(s). One task has nothing to overlap "
        f"with, and hundreds spend more on being sent than on the work: cut the rows into a "
        f"few shards (about one per CPU; at most {most} here), e.g. rows[i::n]",
    )


EXERCISES = [
    Exercise(
        id="map",
        title="Map: one task per shard",
        answer="map_shards",
        grade=_grade_map,
        hints=(
            "rows[i::n] takes every n-th row starting at i: n such slices cover every row once, "
            "and are balanced.",
            "One summarize task per shard; return the refs without getting them (the reduce step "
            "takes refs).",
            "Shape: return [summarize.remote(<the i-th shard>) for i in range(n_shards)].",
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
            "Pass the partial refs themselves, each as its own argument, and return merge's ref "
            "(no get).",
            "Shape: return merge.remote(*...).",
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
            "One bootstrap_ci task per species, each given that species' masses and n_resamples, "
            "all submitted first.",
            "Keep the species next to its ref (a dict), get all the refs at once, then build "
            "{species: (low, high)}.",
            "Shape: refs = {s: bootstrap_ci.remote(...) for s, v in masses.items()}; values = "
            "<all the refs got at once>; then pair each species with its interval.",
        ),
        solution="""def confidence_intervals(masses, n_resamples):
    refs = {s: bootstrap_ci.remote(v, n_resamples) for s, v in masses.items()}
    values = ray.get(list(refs.values()))
    return dict(zip(refs, values))
""",
        try_next="submit one bootstrap_ci task per species, then get them together.",
    ),
    Exercise(
        id="sturdy",
        title="Produce, sturdily: put, wait, an actor, retries, resources",
        answer="produce",
        grade=_grade_sturdy,
        hints=(
            "Five tools, one each: ray.put the masses once; ask for num_cpus=2; let the cluster "
            "retry (max_retries, retry_exceptions); ray.wait for the next ready task; post it to "
            "the board.",
            "Keep a dict {ref: species} of the pending tasks; loop while it is not empty: "
            "ray.wait(list(pending), num_returns=1), post that species with its ref, drop it.",
            "Shape: ref = ray.put(masses); task = bootstrap_species.options(<2 CPUs, retries>); "
            "pending = {task.remote(ref, s, n_resamples): s for s in masses}; <wait-and-post "
            "loop>; return <the board's results>.",
        ),
        solution="""def produce(masses, n_resamples, board):
    masses_ref = ray.put(masses)
    task = bootstrap_species.options(num_cpus=2, max_retries=3, retry_exceptions=True)
    pending = {task.remote(masses_ref, species, n_resamples): species for species in masses}
    while pending:
        [ready], _ = ray.wait(list(pending), num_returns=1)
        board.post.remote(pending.pop(ready), ready)
    return ray.get(board.results.remote())
""",
        try_next="put once, ask for 2 CPUs and retries, then wait for each task and post it.",
    ),
    Exercise(
        id="diagnose",
        title="Diagnose a map cut too fine",
        answer="species_totals",
        grade=_grade_diagnose,
        hints=(
            "Run the %%ray_explain cell and read its finding: how many summarize tasks ran, how "
            "long each one worked, and how long each took from submission to result.",
            "One task per penguin sends 300 tasks whose work takes microseconds: scheduling "
            "them costs far more. Cut the rows into a few shards (about one per CPU), summarize "
            "each in one task, and merge their refs in one merge task.",
            "Shape: parts = [<a summarize task per shard rows[i::n]>]; return ray.get(<one "
            "merge task given the parts>).",
        ),
        solution="""def species_totals(rows):
    parts = [summarize.remote(rows[i::4]) for i in range(4)]
    return ray.get(merge.remote(*parts))
""",
        try_next="read the %%ray_explain report above: a few shards, not one task per row.",
    ),
]
