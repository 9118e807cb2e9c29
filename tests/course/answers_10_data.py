"""Wrong answers and cheats for lesson 10 (Ray Data), in course_answers.py's format: each must be
caught with the phrase given. "hard-coded" and "local" answers return the right values without
the dataset doing the work; "fetched" ones pull the rows into the notebook first."""

from __future__ import annotations

DATA_ANSWERS: dict[str, list[tuple[str, str, str]]] = {
    "10_data:pipeline": [
        (
            "wrong",
            "def heavy_count(path):\n"
            "    ds = ray.data.read_parquet(path).map_batches(add_kg, batch_format='pandas')\n"
            "    return ds.filter(lambda row: row['body_mass_kg'] > 5.5).count()\n",
            "penguins heavier than 4.5 kg",
        ),
        ("hard-coded", "def heavy_count(path):\n    return 115\n", "no ReadParquet tasks ran"),
        (
            "fetched",
            "def heavy_count(path):\n"
            "    df = ray.data.read_parquet(path).to_pandas()\n"
            "    return int((df['body_mass_g'] / 1000 > 4.5).sum())\n",
            "did not run on the cluster",
        ),
    ],
    "10_data:groupby": [
        (
            "wrong",
            "def mean_mass_by_species(ds):\n"
            "    rows = ds.groupby('species').sum('body_mass_g').take_all()\n"
            "    return {r['species']: r['sum(body_mass_g)'] for r in rows}\n",
            "expected the mean body mass per species",
        ),
        (
            "fetched",
            "def mean_mass_by_species(ds):\n"
            "    df = ds.to_pandas()\n"
            "    return df.groupby('species')['body_mass_g'].mean().to_dict()\n",
            "no Aggregate tasks ran",
        ),
        (
            "hard-coded",
            "def mean_mass_by_species(ds):\n"
            "    return {'Adelie': 3700.662251655629, 'Gentoo': 5076.016260162602,\n"
            "            'Chinstrap': 3733.0882352941176}\n",
            "no Aggregate tasks ran",
        ),
    ],
    "10_data:actor_pool": [
        (
            "per batch",
            "def classify_all(ds):\n"
            "    out = ds.map_batches(lambda b: SizeClassifier()(b), batch_format='pandas')\n"
            "    rows = out.groupby('size').count().take_all()\n"
            "    return {r['size']: r['count()'] for r in rows}\n",
            "built again in every task",
        ),
        (
            "fetched",
            "def classify_all(ds):\n"
            "    df = SizeClassifier()(ds.to_pandas())\n"
            "    return {k: int(v) for k, v in df['size'].value_counts().items()}\n",
            "it ran in the notebook",
        ),
        (
            # 3, not 4: on Ray, 4 one-CPU actors would hold all 4 CPUs and leave none for the
            # groupby's tasks, so the cheat would hang instead of being caught.
            "three actors",
            "def classify_all(ds):\n"
            "    out = ds.map_batches(SizeClassifier, concurrency=3, batch_size=32,\n"
            "                         batch_format='pandas')\n"
            "    rows = out.groupby('size').count().take_all()\n"
            "    return {r['size']: r['count()'] for r in rows}\n",
            "3 actors were started",
        ),
    ],
}
