"""Lesson 10 (Ray Data): the seed's pipeline on a Parquet directory, a grouped aggregation, and
model inference on an actor pool. The checks read the run's records: the work must show up as
the dataset's own tasks and actors (fused read->map->filter tasks, aggregate tasks, one pool of
two actors), not only as the right number."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..exercise import Exercise, Grader
from ..observe import api

DATA = Path(__file__).resolve().parents[4] / "notebooks" / "data" / "penguins.csv"


def csv_path() -> str:
    """penguins.csv: the checkout's copy, else the one next to the notebook."""
    for path in (DATA, Path.cwd() / "data" / "penguins.csv"):
        if path.exists():
            return str(path)
    raise FileNotFoundError(
        f"penguins.csv is neither at {DATA} nor in ./data/: open the lesson from the course's "
        "notebooks/ folder"
    )


def _masses() -> list[float]:
    import pyarrow.csv as pacsv

    column = pacsv.read_csv(csv_path()).column("body_mass_g")
    return [float(m) for m in column.to_pylist() if m is not None]


def _species_means() -> dict[str, float]:
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(csv_path()).to_pylist()
    sums: dict[str, list[float]] = {}
    for row in table:
        if row["body_mass_g"] is not None:
            sums.setdefault(row["species"], []).append(float(row["body_mass_g"]))
    return {k: sum(v) / len(v) for k, v in sums.items()}


def _parquet_dir() -> str:
    """The penguins with a body mass, as 4 Parquet files in a fresh directory (the check's own
    copy, written locally: what is checked is the learner's pipeline, not this setup)."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pacsv.read_csv(csv_path())
    table = table.filter(pc.is_valid(table.column("body_mass_g")))
    where = tempfile.mkdtemp(prefix="lesson10-")
    step = -(-table.num_rows // 4)
    for i in range(4):
        pq.write_table(table.slice(i * step, step), os.path.join(where, f"part-{i}.parquet"))
    return where


def penguins_dataset(blocks: int = 8) -> Any:
    """The penguins with a body mass, as a dataset of `blocks` blocks."""
    data = api().data
    ds = data.read_csv(csv_path()).filter(lambda row: row["body_mass_g"] is not None)
    return ds.repartition(blocks)


def _named(g: Grader, part: str, kind: str = "NORMAL_TASK") -> list:
    return [s for s in g.record.spans if s.kind == kind and part in s.name]


def _parquet_reads(g: Grader) -> list:
    """The tasks that read Parquet files: `ReadParquet...` on rayground, `ReadFilesParquetV2...`
    on Ray 2.60 (whose reader bundles small files, so 4 small files may be read by one task)."""
    return [s for s in _named(g, "Read") if "Parquet" in s.name.split("->")[0]]


def _aggregate_tasks(g: Grader) -> list:
    """A groupby's reduce tasks: `Aggregate` on rayground, `HashAggregateMap/Reduce(...)` on Ray
    (Ray's `count()` adds an `AggregateNumRows` operator of its own, which does not count)."""
    return [
        s for s in _named(g, "Aggregate") if s.name == "Aggregate" or s.name.startswith("HashAgg")
    ]


def _pool_calls(g: Grader) -> list:
    """Calls that ran batches on a map actor: `MapWorker.process` on rayground,
    `MapWorker(MapBatches(...)).submit` on Ray (not their readiness/location probes)."""
    return [
        s
        for s in g.record.actor_calls()
        if s.name.startswith("MapWorker") and s.name.rsplit(".", 1)[-1] in ("process", "submit")
    ]


def _grade_pipeline(heavy_count: Any, g: Grader) -> None:
    path = _parquet_dir()
    try:
        value = g.run(heavy_count, path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
    expected = sum(1 for m in _masses() if m / 1000 > 4.5)
    g.expect(
        value == expected,
        f"heavy_count(a Parquet directory) returned {expected}",
        f"heavy_count(a Parquet directory of penguins) returned {value!r}; expected {expected} "
        "penguins heavier than 4.5 kg",
    )
    reads = _parquet_reads(g)
    g.expect_known(
        lambda: len(reads) >= 1,
        f"the files were read by {len(reads)} ReadParquet task(s) on the cluster",
        "no ReadParquet tasks ran: read the directory with ray.data.read_parquet(path) so the "
        "cluster reads it block by block",
    )
    fused = [s for s in reads if "MapBatches" in s.name and "Filter" in s.name]
    g.expect_known(
        lambda: len(fused) == len(reads),
        "map_batches and filter ran inside the read tasks (one fused task per block: "
        f"{reads[0].name if reads else ''})",
        "the map and the filter did not run on the cluster: the rows came to the notebook and "
        "were processed there. Use ds.map_batches(...) and ds.filter(...) before count()",
    )


def _grade_groupby(mean_mass_by_species: Any, g: Grader) -> None:
    value = g.run(mean_mass_by_species, penguins_dataset())
    expected = {k: round(v, 2) for k, v in _species_means().items()}
    got = (
        {str(k): round(float(v), 2) for k, v in value.items()} if isinstance(value, dict) else None
    )
    g.expect(
        got == expected,
        f"mean_mass_by_species(penguins) returned {expected} (rounded)",
        f"mean_mass_by_species(penguins) returned {value!r}; expected the mean body mass per "
        f"species, {expected}",
    )
    aggregates = _aggregate_tasks(g)
    g.expect_known(
        lambda: bool(aggregates),
        "the means were computed by the dataset's Aggregate tasks (groupby -> mean)",
        "no Aggregate tasks ran, so the means were computed in the notebook: use "
        "ds.groupby('species').mean('body_mass_g') and take its rows",
    )


def _grade_actor_pool(classify_all: Any, g: Grader) -> None:
    value = g.run(classify_all, penguins_dataset())
    masses = _masses()
    large = sum(1 for m in masses if m > 4500)
    expected = {"large": large, "small": len(masses) - large}
    got = {str(k): int(v) for k, v in value.items()} if isinstance(value, dict) else None
    g.expect(
        got == expected,
        f"classify_all(penguins) returned {expected}",
        f"classify_all(penguins) returned {value!r}; expected the number of penguins per "
        f"predicted size, {expected}",
    )
    actors = [s for s in g.record.actors_created() if s.name.startswith("MapWorker")]
    calls = _pool_calls(g)
    g.expect_known(
        lambda: bool(actors) or bool(calls),
        "the model ran in a pool of actors",
        (
            "no actor pool ran the model"
            + (
                ": it was built again in every task. Pass the class itself: "
                "ds.map_batches(SizeClassifier, compute=ray.data.ActorPoolStrategy(size=2), ...)"
                if _named(g, "MapBatches")
                else ": it ran in the notebook. Let the dataset run it: "
                "ds.map_batches(SizeClassifier, compute=ray.data.ActorPoolStrategy(size=2), ...)"
            )
        ),
    )
    g.expect_known(
        lambda: len(actors) == 2,
        "exactly 2 actors were started, each loading the model once",
        f"{len(actors)} actors were started; ask for a pool of 2 with "
        "compute=ray.data.ActorPoolStrategy(size=2)",
    )
    g.expect_known(
        lambda: len({c.actor_id for c in calls}) == 2 and len(calls) >= 4,
        f"both actors classified batches ({len(calls)} calls)",
        f"only {len({c.actor_id for c in calls})} actor(s) did any work ({len(calls)} calls); "
        "keep batches small (batch_size=32) so the pool can share them",
    )


EXERCISES = [
    Exercise(
        id="pipeline",
        title="The seed's pipeline, on the cluster",
        answer="heavy_count",
        grade=_grade_pipeline,
        hints=(
            "A dataset is a lazy plan: each step returns a new dataset, and nothing runs until "
            "you ask for a result such as count().",
            "Read the directory with ray.data.read_parquet, add the column with map_batches "
            "(add_kg works on pandas batches), keep the heavy rows with filter, then count.",
            "Shape: ds = <read the path>; ds = ds.map_batches(add_kg, batch_format=<'pandas'>); "
            "ds = ds.filter(<row's body_mass_kg above 4.5>); return <its count>.",
        ),
        solution="""def heavy_count(path):
    ds = ray.data.read_parquet(path)
    ds = ds.map_batches(add_kg, batch_format="pandas")
    ds = ds.filter(lambda row: row["body_mass_kg"] > 4.5)
    return ds.count()
""",
        try_next="build the pipeline on the dataset: read_parquet -> map_batches -> filter -> "
        "count.",
    ),
    Exercise(
        id="groupby",
        title="Group and aggregate",
        answer="mean_mass_by_species",
        grade=_grade_groupby,
        hints=(
            "Let the dataset aggregate on the cluster: fetching every row to average it here is "
            "what the exercise rules out.",
            "groupby('species') then mean('body_mass_g') gives one row per species, with a "
            "column named 'mean(body_mass_g)'.",
            "Shape: rows = <grouped mean>.take_all(); return {<species>: <its mean> for each row}.",
        ),
        solution="""def mean_mass_by_species(ds):
    rows = ds.groupby("species").mean("body_mass_g").take_all()
    return {r["species"]: r["mean(body_mass_g)"] for r in rows}
""",
        try_next="let the dataset aggregate: ds.groupby('species').mean('body_mass_g').",
    ),
    Exercise(
        id="actor_pool",
        title="Inference on an actor pool",
        answer="classify_all",
        grade=_grade_actor_pool,
        hints=(
            "A callable class passed to map_batches runs in a pool of actors: each builds the "
            "model once and then classifies batch after batch.",
            "Pass the class itself (not an instance) with an actor pool of two as its compute "
            "strategy (ray.data.ActorPoolStrategy), batch_size=32 and batch_format='pandas'; "
            "then count the predictions per 'size'.",
            "Shape: predicted = ds.map_batches(<the class, with those options>); rows = "
            "<predicted grouped by 'size', counted>.take_all(); return {<size>: <'count()'>}.",
        ),
        solution="""def classify_all(ds):
    predicted = ds.map_batches(
        SizeClassifier,
        compute=ray.data.ActorPoolStrategy(size=2),
        batch_size=32,
        batch_format="pandas",
    )
    rows = predicted.groupby("size").count().take_all()
    return {r["size"]: r["count()"] for r in rows}
""",
        try_next="ds.map_batches(SizeClassifier, compute=ray.data.ActorPoolStrategy(size=2), "
        "batch_size=32, batch_format='pandas').",
    ),
]
