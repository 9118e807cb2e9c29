"""`ray.util.joblib.register_ray()`: joblib's "ray" backend runs `Parallel` batches and
scikit-learn's `n_jobs` work on the cluster, held to the same assertions on both backends.
Skipped where joblib (the `joblib` extra) is not installed."""

from __future__ import annotations

import importlib
import os

import pytest

from _needs import need_module

joblib = need_module("joblib", "joblib is not installed: the `joblib` extra")


@pytest.fixture(scope="module")
def ray_joblib(ray):
    module = importlib.import_module(f"{ray.__name__}.util.joblib")
    module.register_ray()
    return module


def test_parallel_runs_on_the_cluster(ray_joblib):
    with joblib.parallel_backend("ray"):
        squares = joblib.Parallel(n_jobs=2)(joblib.delayed(pow)(i, 2) for i in range(20))
        pids = joblib.Parallel(n_jobs=2)(joblib.delayed(os.getpid)() for _ in range(8))
    assert squares == [i * i for i in range(20)]
    assert os.getpid() not in set(pids)  # the batches ran in the pool's actors


def test_all_jobs_means_the_clusters_cpus(ray_joblib):
    with joblib.parallel_backend("ray"):
        assert joblib.effective_n_jobs(-1) == 2  # the fixture's cluster has 2 CPUs
        assert joblib.effective_n_jobs(-2) == 1


def test_backend_by_name_in_parallel(ray_joblib):
    out = joblib.Parallel(n_jobs=2, backend="ray")(joblib.delayed(abs)(-i) for i in range(5))
    assert out == [0, 1, 2, 3, 4]


def test_a_batchs_error_is_raised_as_the_users_type(ray_joblib):
    def fail_on(x, bad):  # defined here: Ray's workers cannot import a test module
        if x == bad:
            raise KeyError(f"item {x} is bad")
        return x

    with joblib.parallel_backend("ray"), pytest.raises(KeyError, match="item 3 is bad"):
        joblib.Parallel(n_jobs=2)(joblib.delayed(fail_on)(i, 3) for i in range(6))


def test_scikit_learn_grid_search(ray_joblib):
    need_module("sklearn", "scikit-learn is not installed: the `test` extra")
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    grid = {"max_depth": [1, 2, 3], "min_samples_leaf": [1, 5]}

    def search(n_jobs):
        model = DecisionTreeClassifier(random_state=0)
        return GridSearchCV(model, grid, cv=3, n_jobs=n_jobs).fit(X, y)

    expected = search(n_jobs=None)  # in this process
    with joblib.parallel_backend("ray"):
        on_cluster = search(n_jobs=2)
    assert on_cluster.best_params_ == expected.best_params_
    assert list(on_cluster.cv_results_["mean_test_score"]) == list(
        expected.cv_results_["mean_test_score"]
    )
