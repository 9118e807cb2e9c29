"""`ray.util.dask.ray_dask_get`: Dask graphs (delayed, arrays, dataframes, raw graphs) run as
cluster tasks, held to the same assertions on both backends. Skipped where Dask (the `dask`
extra) is not installed."""

from __future__ import annotations

import importlib
import operator
import os

import pytest

from _needs import need_module

dask = need_module("dask", "Dask is not installed: the `dask` extra")


@pytest.fixture(scope="module")
def ray_dask(ray):
    return importlib.import_module(f"{ray.__name__}.util.dask")


def test_delayed_chain(ray_dask):
    @dask.delayed
    def inc(x):
        return x + 1

    @dask.delayed
    def add(a, b):
        return a + b

    total = add(inc(1), inc(inc(10)))
    assert dask.compute(total, scheduler=ray_dask.ray_dask_get) == (14,)
    assert total.compute(scheduler=ray_dask.ray_dask_get) == 14


def test_tasks_run_in_the_clusters_workers(ray_dask):
    pids = [dask.delayed(os.getpid)(dask_key_name=f"pid-{i}") for i in range(4)]
    (got,) = dask.compute(pids, scheduler=ray_dask.ray_dask_get)
    assert len(got) == 4
    assert os.getpid() not in got


def test_array_reductions(ray_dask):
    import numpy as np

    da = need_module("dask.array", "dask.array is not importable: the `dask` extra")
    x = da.arange(10_000, chunks=1_000).reshape(100, 100).rechunk((25, 25))
    total, col_means = dask.compute(x.sum(), x.mean(axis=0), scheduler=ray_dask.ray_dask_get)
    expected = np.arange(10_000).reshape(100, 100)
    assert total == expected.sum()
    np.testing.assert_allclose(col_means, expected.mean(axis=0))


def test_dataframe_groupby(ray_dask):
    pd = need_module("pandas", "pandas is not installed: the `data` extra")
    dd = need_module("dask.dataframe", "dask.dataframe needs pandas and pyarrow: the `data` extra")
    df = pd.DataFrame({"k": [i % 3 for i in range(30)], "v": range(30)})
    ddf = dd.from_pandas(df, npartitions=3)
    got = ddf.groupby("k").v.sum().compute(scheduler=ray_dask.ray_dask_get)
    assert got.sort_index().to_dict() == df.groupby("k").v.sum().to_dict()


def test_raw_graph_and_nested_keys(ray_dask):
    graph = {"a": 1, "b": (operator.add, "a", 10), "c": (operator.mul, "b", 2), "d": "c"}
    assert list(ray_dask.ray_dask_get(graph, ["c"])) == [22]
    b_and_c, d = ray_dask.ray_dask_get(graph, [["b", "c"], "d"])
    assert (list(b_and_c), d) == ([11, 22], 22)


def test_task_error_reaches_the_caller_as_the_users_type(ray_dask):
    @dask.delayed
    def boom(x):
        raise ZeroDivisionError(f"cannot split {x}")

    with pytest.raises(ZeroDivisionError, match="cannot split 5"):
        dask.compute(boom(5), scheduler=ray_dask.ray_dask_get)


def test_enable_dask_on_ray_makes_it_the_default(ray_dask):
    work = dask.delayed(os.getpid)()
    with ray_dask.enable_dask_on_ray():
        assert work.compute() != os.getpid()
    assert dask.config.get("scheduler", None) is not ray_dask.ray_dask_get


def test_top_level_resources_are_refused(ray_dask):
    with pytest.raises(ValueError, match="ray_remote_args"):
        ray_dask.ray_dask_get({"a": 1}, ["a"], resources={"CPU": 1})


def test_persist_returns_refs(ray, ray_dask):
    graph = {"a": 2, "b": (operator.add, "a", 1), "c": (operator.mul, "b", "b")}
    refs = ray_dask.ray_dask_get(graph, ["b", "c"], ray_persist=True)
    assert all(isinstance(r, ray.ObjectRef) for r in refs)
    assert ray.get(list(refs), timeout=60) == [3, 9]
