"""joblib's "ray" backend sends a large argument that many batches share once per pool, and the
batches read it back intact (rayground only: it counts the `put`s)."""

from __future__ import annotations

import numpy as np
import pytest

import rayground as ray
from _needs import need_module

joblib = need_module("joblib", "joblib is not installed: the `joblib` extra")


@pytest.fixture(scope="module")
def cluster():
    from rayground.util.joblib import register_ray

    ray.init(num_cpus=2)
    register_ray()
    yield ray
    ray.shutdown()


def column_sum(data, column):
    return float(data[:, column].sum())


def test_a_shared_large_argument_is_put_once(cluster, monkeypatch):
    data = np.arange(200_000, dtype=np.float64).reshape(-1, 8)  # 1.6 MB
    puts = []
    real_put = ray.put

    def counting_put(value, **kwargs):
        puts.append(type(value).__name__)
        return real_put(value, **kwargs)

    monkeypatch.setattr(ray, "put", counting_put)
    with joblib.parallel_backend("ray"):
        sums = joblib.Parallel(n_jobs=2, batch_size=1)(
            joblib.delayed(column_sum)(data, c) for c in range(8)
        )
    assert sums == [float(data[:, c].sum()) for c in range(8)]
    assert puts.count("ndarray") == 1  # eight batches, one copy in the object store


def test_small_arguments_travel_with_the_batch(cluster, monkeypatch):
    puts = []
    monkeypatch.setattr(ray, "put", lambda value, **kw: puts.append(value))
    with joblib.parallel_backend("ray"):
        assert joblib.Parallel(n_jobs=2)(joblib.delayed(abs)(-i) for i in range(6)) == list(
            range(6)
        )
    assert puts == []
