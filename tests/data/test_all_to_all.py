"""Column operations and the all-to-all operations, on rayground and Ray Data."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest


@pytest.fixture
def kv(ray):
    return ray.data.range(30, override_num_blocks=4).map(
        lambda r: {"id": r["id"], "k": r["id"] % 3, "v": float(r["id"])}
    )


def _ids(ds, col="id"):
    return [r[col] for r in ds.take_all()]


def test_column_ops(ray, kv):
    added = kv.add_column("w", lambda df: df["v"] * 2)
    assert sorted(added.columns()) == ["id", "k", "v", "w"]
    assert sorted(r["w"] for r in added.take_all()) == [2.0 * i for i in range(30)]
    assert kv.drop_columns(["v"]).columns() == ["id", "k"]
    assert kv.select_columns(["v", "id"]).columns() == ["v", "id"]
    assert kv.rename_columns({"v": "value"}).columns() == ["id", "k", "value"]


def test_sort_ascending_descending_and_two_keys(ray, kv):
    assert _ids(kv.random_shuffle(seed=1).sort("id")) == list(range(30))
    assert _ids(kv.sort("id", descending=True)) == list(range(29, -1, -1))
    rows = kv.sort(["k", "id"]).take_all()
    assert [(r["k"], r["id"]) for r in rows] == sorted((i % 3, i) for i in range(30))


def test_random_shuffle_keeps_rows(ray, kv):
    shuffled = _ids(kv.random_shuffle(seed=7))
    assert sorted(shuffled) == list(range(30))
    assert shuffled != list(range(30))


def test_repartition(ray):
    ds = ray.data.range(100, override_num_blocks=3).repartition(5).materialize()
    assert ds.num_blocks() == 5
    assert sorted(_ids(ds)) == list(range(100))
    shuffled = ray.data.range(100).repartition(4, shuffle=True).materialize()
    assert shuffled.num_blocks() == 4 and sorted(_ids(shuffled)) == list(range(100))


@pytest.mark.timeout(400)  # Ray Data's hash shuffle is slow on a busy 2-core machine
def test_groupby_aggregates(ray, kv):
    by_k = {r["k"]: r for r in kv.groupby("k").count().take_all()}
    assert {k: r["count()"] for k, r in by_k.items()} == {0: 10, 1: 10, 2: 10}
    sums = {r["k"]: r["sum(v)"] for r in kv.groupby("k").sum("v").take_all()}
    assert sums == {k: float(sum(i for i in range(30) if i % 3 == k)) for k in range(3)}
    means = {r["k"]: r["mean(v)"] for r in kv.groupby("k").mean("v").take_all()}
    assert means == {k: statistics.mean(i for i in range(30) if i % 3 == k) for k in range(3)}
    stds = {r["k"]: r["std(v)"] for r in kv.groupby("k").std("v").take_all()}
    for k in range(3):
        assert math.isclose(stds[k], statistics.stdev(i for i in range(30) if i % 3 == k))
    mins = {r["k"]: r["min(v)"] for r in kv.groupby("k").min("v").take_all()}
    maxs = {r["k"]: r["max(v)"] for r in kv.groupby("k").max("v").take_all()}
    assert mins == {0: 0.0, 1: 1.0, 2: 2.0} and maxs == {0: 27.0, 1: 28.0, 2: 29.0}


def test_groupby_map_groups(ray, kv):
    def spread(group):
        return {"k": group["k"][:1], "spread": np.array([group["v"].max() - group["v"].min()])}

    out = {r["k"]: r["spread"] for r in kv.groupby("k").map_groups(spread).take_all()}
    assert out == {0: 27.0, 1: 27.0, 2: 27.0}


@pytest.mark.timeout(400)
def test_global_aggregations(ray, kv):
    from_agg = kv.aggregate(ray.data.aggregate.Count(), ray.data.aggregate.Sum("v"))
    assert from_agg == {"count()": 30, "sum(v)": 435.0}
    assert kv.sum("id") == 435
    assert kv.min("id") == 0 and kv.max("id") == 29
    assert kv.mean("v") == 14.5
    assert math.isclose(kv.std("v"), statistics.stdev(range(30)))
    assert kv.sum(["id", "v"]) == {"sum(id)": 435, "sum(v)": 435.0}
    assert sorted(kv.unique("k")) == [0, 1, 2]


def test_union_zip_limit(ray):
    a, b = ray.data.range(5), ray.data.range(3).map(lambda r: {"id": r["id"] + 100})
    assert sorted(_ids(a.union(b))) == [0, 1, 2, 3, 4, 100, 101, 102]
    zipped = ray.data.range(6).zip(
        ray.data.range(6, override_num_blocks=2).map(lambda r: {"id": r["id"] * 10})
    )
    assert sorted((r["id"], r["id_1"]) for r in zipped.take_all()) == [
        (i, 10 * i) for i in range(6)
    ]
    assert ray.data.range(1000).limit(12).count() == 12


def test_split_and_train_test_split(ray):
    parts = ray.data.range(10).split(3)
    assert sorted(i for p in parts for i in _ids(p)) == list(range(10))
    equal = ray.data.range(10).split(3, equal=True)
    assert [p.count() for p in equal] == [3, 3, 3]
    train, test = ray.data.range(10).train_test_split(test_size=0.2)
    assert train.count() == 8 and test.count() == 2
    assert sorted(_ids(train) + _ids(test)) == list(range(10))
    train, test = ray.data.range(10).train_test_split(test_size=3, shuffle=True, seed=0)
    assert (train.count(), test.count()) == (7, 3)


def test_random_sample(ray):
    sampled = _ids(ray.data.range(1000).random_sample(0.1, seed=3))
    assert 40 < len(sampled) < 200 and set(sampled) <= set(range(1000))


def test_streaming_split_covers_every_row_once(ray):
    its = ray.data.range(40, override_num_blocks=8).streaming_split(2)

    # num_cpus=0: the consumers wait on the split while its read tasks need the two CPUs.
    @ray.remote(num_cpus=0)
    def consume(it):
        return [int(x) for b in it.iter_batches(batch_size=None) for x in b["id"]]

    got = ray.get([consume.remote(it) for it in its], timeout=120)
    assert sorted(got[0] + got[1]) == list(range(40))
    assert got[0] and got[1]


def test_to_refs(ray):
    ds = ray.data.range(10, override_num_blocks=2)
    arrays = ray.get(ds.to_numpy_refs(column="id"))
    assert sorted(np.concatenate(arrays).tolist()) == list(range(10))
    dicts = ray.get(ds.to_numpy_refs())
    assert sorted(np.concatenate([d["id"] for d in dicts]).tolist()) == list(range(10))
    tables = ray.get(ds.to_arrow_refs())
    assert sum(t.num_rows for t in tables) == 10


def test_stats_names_the_operators(ray):
    ds = ray.data.range(10).map_batches(lambda b: b).materialize()
    text = ds.stats()
    assert "MapBatches(<lambda>)" in text
    assert "tasks executed" in text
