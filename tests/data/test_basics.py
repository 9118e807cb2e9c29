"""Creating, transforming and consuming datasets: the same results on rayground and Ray Data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest


def _sorted(rows, key="id"):
    return sorted(rows, key=lambda r: r[key])


def test_range_take_count_schema(ray):
    ds = ray.data.range(100)
    assert ds.count() == 100
    assert ds.schema().names == ["id"]
    assert ds.columns() == ["id"]
    assert _sorted(ds.take_all()) == [{"id": i} for i in range(100)]
    assert len(ds.take(5)) == 5


def test_from_items_dicts_and_plain_values(ray):
    assert _sorted(ray.data.from_items([{"a": 1}, {"a": 2}]).take_all(), "a") == [
        {"a": 1},
        {"a": 2},
    ]
    assert _sorted(ray.data.from_items([3, 1, 2]).take_all(), "item") == [
        {"item": 1},
        {"item": 2},
        {"item": 3},
    ]


def test_map_filter_flat_map(ray):
    ds = ray.data.range(20).map(lambda r: {"id": r["id"], "sq": r["id"] ** 2})
    ds = ds.filter(lambda r: r["sq"] % 2 == 0)
    ds = ds.flat_map(lambda r: [r, {"id": r["id"] + 1000, "sq": -1}])
    rows = _sorted(ds.take_all())
    assert [r["id"] for r in rows] == [*range(0, 20, 2), *range(1000, 1020, 2)]
    assert rows[3] == {"id": 6, "sq": 36}


@pytest.mark.parametrize("fmt", ["default", "numpy", "pandas", "pyarrow"])
def test_map_batches_formats(ray, fmt):
    seen = []

    def double(batch):
        seen.append(type(batch).__name__)
        if fmt == "pandas":
            assert isinstance(batch, pd.DataFrame)
            batch["id"] = batch["id"] * 2
            return batch
        if fmt == "pyarrow":
            assert isinstance(batch, pa.Table)
            return pa.table({"id": pa.compute.multiply(batch["id"], 2)})
        assert isinstance(batch, dict) and isinstance(batch["id"], np.ndarray)
        return {"id": batch["id"] * 2}

    out = ray.data.range(50).map_batches(double, batch_format=fmt, batch_size=7).take_all()
    assert sorted(r["id"] for r in out) == [2 * i for i in range(50)]


def test_map_batches_fn_args_and_kwargs(ray):
    def shift(batch, by, *, scale):
        return {"id": (batch["id"] + by) * scale}

    out = ray.data.range(5).map_batches(shift, fn_args=(10,), fn_kwargs={"scale": 2}).take_all()
    assert sorted(r["id"] for r in out) == [20, 22, 24, 26, 28]


def test_batch_size_splits_blocks(ray):
    sizes = (
        ray.data.range(10, override_num_blocks=1)
        .map_batches(lambda b: {"n": np.array([len(b["id"])])}, batch_size=4)
        .take_all()
    )
    assert sorted(r["n"] for r in sizes) == [2, 4, 4]


def test_from_pandas_numpy_arrow(ray):
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert ray.data.from_pandas(df).to_pandas().sort_values("a").reset_index(drop=True).equals(df)
    arr = np.arange(12).reshape(4, 3)
    rows = ray.data.from_numpy(arr).take_all()
    assert len(rows) == 4
    np.testing.assert_array_equal(
        np.stack(sorted((r["data"] for r in rows), key=lambda a: a[0])), arr
    )
    table = pa.table({"x": [1.5, 2.5]})
    assert sorted(r["x"] for r in ray.data.from_arrow(table).take_all()) == [1.5, 2.5]


def test_range_tensor(ray):
    ds = ray.data.range_tensor(6, shape=(2, 2))
    batch = ds.take_batch(6)
    data = batch["data"]
    assert data.shape == (6, 2, 2)
    np.testing.assert_array_equal(np.sort(data[:, 0, 0]), np.arange(6))


def test_iter_batches_rebatches_across_blocks(ray):
    ds = ray.data.range(103, override_num_blocks=5)
    sizes = [len(b["id"]) for b in ds.iter_batches(batch_size=25)]
    assert sizes == [25, 25, 25, 25, 3]
    dropped = [len(b["id"]) for b in ds.iter_batches(batch_size=25, drop_last=True)]
    assert dropped == [25, 25, 25, 25]
    frames = list(ds.iter_batches(batch_size=50, batch_format="pandas"))
    assert all(isinstance(f, pd.DataFrame) for f in frames)
    assert sorted(r["id"] for r in ds.iter_rows()) == list(range(103))


def test_iterator_materialize_and_stats(ray):
    it = ray.data.range(20, override_num_blocks=2).map(lambda r: {"id": r["id"] * 2}).iterator()
    assert sorted(r["id"] for r in it.iter_rows()) == list(range(0, 40, 2))
    assert isinstance(it.stats(), str)
    mat = it.materialize()
    assert mat.count() == 20 and sorted(r["id"] for r in mat.take_all()) == list(range(0, 40, 2))
    (share,) = ray.data.range(10, override_num_blocks=2).streaming_split(1)
    assert sorted(r["id"] for r in share.materialize().take_all()) == list(range(10))


def test_take_batch_and_show(ray, capsys):
    batch = ray.data.range(10).take_batch(3)
    assert list(batch) == ["id"] and len(batch["id"]) == 3
    ray.data.from_items([{"k": 1}]).show()
    assert "{'k': 1}" in capsys.readouterr().out


def test_materialize_and_limit(ray):
    mat = ray.data.range(30).map(lambda r: {"id": r["id"] + 1}).materialize()
    assert mat.count() == 30
    assert sorted(r["id"] for r in mat.take_all()) == list(range(1, 31))
    assert mat.limit(7).count() == 7


def test_callable_class_on_actor_pool(ray):
    class AddOffset:
        def __init__(self, offset):
            self.offset = offset

        def __call__(self, batch):
            return {"id": batch["id"] + self.offset}

    # num_cpus=0.5: two actors leave a CPU of the two for the read tasks (Ray Data waits for
    # resources otherwise).
    ds = ray.data.range(40).map_batches(
        AddOffset, fn_constructor_args=(100,), concurrency=2, batch_size=5, num_cpus=0.5
    )
    assert sorted(r["id"] for r in ds.take_all()) == list(range(100, 140))
    pool = ray.data.range(10).map_batches(
        AddOffset,
        fn_constructor_kwargs={"offset": 1},
        compute=ray.data.ActorPoolStrategy(size=1),
        num_cpus=0.5,
    )
    assert sorted(r["id"] for r in pool.take_all()) == list(range(1, 11))


def test_bad_batch_format_is_rejected_at_once(ray):
    with pytest.raises(ValueError, match="batch format"):
        ray.data.range(3).map_batches(lambda b: b, batch_format="foo")


def test_dataset_is_not_iterable(ray):
    with pytest.raises(TypeError, match="iter_rows"):
        iter(ray.data.range(3))
