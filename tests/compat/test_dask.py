"""`ray.util.dask.ray_dask_get`: Dask graphs (delayed, arrays, dataframes, raw graphs) run as
cluster tasks, held to the same assertions on both backends; where they differ, the test
declares it (`@pytest.mark.differs`). Skipped where Dask (the `dask` extra) is not installed
(under CI: fails)."""

from __future__ import annotations

import importlib
import operator
import os
import warnings

import pytest

from _needs import need_module

dask = need_module("dask", "Dask is not installed: the `dask` extra")

DIFFERENCES_SECTION = "`rayground.util.dask`"
GRAPH = {"a": 1, "b": (operator.add, "a", 10), "c": (operator.mul, "b", 2), "d": "c"}


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
    assert ray_dask.ray_dask_get(GRAPH, "d") == 22
    assert ray_dask.ray_dask_get(GRAPH, [["b", "c"], "d"]) == ((11, 22), 22)
    assert ray_dask.ray_dask_get({"a": 1}, ["a"]) == (1,)


@pytest.mark.differs(
    "ray",
    what="Result of a list of keys that are all tasks",
    ray="a list (a tuple when one is not a task, or in a nested list)",
    rayground="a tuple, as Dask's own `get`",
    why="Dask's convention; `dask.compute` reads both.",
)
def test_a_list_of_task_keys(ray_dask, differs):
    expected = [11, 22] if differs else (11, 22)
    assert ray_dask.ray_dask_get(GRAPH, ["b", "c"]) == expected


@pytest.mark.differs(
    "rayground",
    what="`RayDaskCallback`",
    ray="provided",
    rayground="not provided (`AttributeError`)",
    why="not needed by the course yet.",
)
def test_dask_callbacks(ray_dask):
    assert hasattr(ray_dask, "RayDaskCallback")


@pytest.mark.differs(
    "rayground",
    what="`ray_dask_get_sync`",
    ray="a separate single-threaded variant, which in 2.60 fails on any task "
    "(`TypeError` from `_rayify_task_wrapper`)",
    rayground="the same function as `ray_dask_get`",
    why="ours already submits from the calling thread.",
)
def test_the_sync_variant(ray_dask, differs):
    if differs:
        assert ray_dask.ray_dask_get_sync is ray_dask.ray_dask_get
        assert ray_dask.ray_dask_get_sync(GRAPH, "c") == 22
    else:
        assert ray_dask.ray_dask_get_sync is not ray_dask.ray_dask_get
        with pytest.raises(TypeError, match="scoped_ray_remote_args"):
            ray_dask.ray_dask_get_sync(GRAPH, "c")


@pytest.mark.differs(
    "ray",
    what="`enable_dask_on_ray()`",
    ray="sets Dask's deprecated `shuffle` key (a `FutureWarning`)",
    rayground="sets `dataframe.shuffle.method`",
    why="Dask renamed the key.",
)
def test_enable_dask_on_ray_picks_the_task_shuffle(ray_dask, differs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ray_dask.enable_dask_on_ray():
            method = dask.config.get("dataframe.shuffle.method", None)
    future = [w for w in caught if issubclass(w.category, FutureWarning)]
    if differs:
        assert method is None
        assert any("'shuffle' has been deprecated" in str(w.message) for w in future)
    else:
        assert method == "tasks"
        assert future == []


@pytest.mark.differs(
    "ray",
    what="Unknown keyword arguments to `ray_dask_get`",
    ray="passed on to Dask's local scheduler, which ignores them",
    rayground="`TypeError` naming them",
    why="nothing is ignored silently.",
)
def test_unknown_keyword_arguments(ray_dask, differs):
    if differs:
        assert ray_dask.ray_dask_get({"a": 1}, ["a"], no_such_option=1) == (1,)
    else:
        with pytest.raises(
            TypeError, match=r"unexpected keyword argument\(s\) \['no_such_option'\]"
        ):
            ray_dask.ray_dask_get({"a": 1}, ["a"], no_such_option=1)


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
