"""`ray.tune.stopper`'s stoppers on rayground and real Ray, held to the same assertions:
TrialPlateauStopper (per trial), ExperimentPlateauStopper and TimeoutStopper (stop_all, which
the experiment checks every step), NoopStopper and CombinedStopper."""

from __future__ import annotations

import importlib

import pytest


def _tune_of(config):
    return importlib.import_module(config["_backend"] + ".tune")


def flattening(config):
    """loss falls by `drop` per step for `steps` steps, then stays flat; 30 steps at most."""
    tune = _tune_of(config)
    for step in range(1, 31):
        tune.report({"loss": 10.0 - config["drop"] * min(step, config["steps"])})


def endless(config):
    """Reports until stopped from outside (99,999 reports at most, so a missed stop fails the
    assertion below instead of hanging for ever)."""
    tune = _tune_of(config)
    for step in range(1, 100_000):
        tune.report({"loss": 1.0 / step})


@pytest.fixture(scope="module")
def stopper(ray):
    return importlib.import_module(f"{ray.__name__}.tune.stopper")


def test_trial_plateau_stopper_stops_a_trial_whose_metric_is_flat(ray, tune, stopper, run_config):
    stop = stopper.TrialPlateauStopper(metric="loss", std=0.001, num_results=3, grace_period=3)
    grid = tune.Tuner(
        flattening,
        param_space={
            "_backend": ray.__name__,
            "drop": 1.0,
            "steps": tune.grid_search([2, 5, 40]),
        },
        run_config=run_config("plateau", stop=stop),
    ).fit()
    iterations = sorted((r.config["steps"], r.metrics["training_iteration"]) for r in grid)
    # flat from step `steps` on: three equal values end the trial at step steps + 2 (at least
    # the grace period); the one that never flattens runs to its end
    assert iterations == [(2, 4), (5, 7), (40, 30)]


def test_trial_plateau_stopper_threshold_needs_a_mode(ray, stopper):
    with pytest.raises(ValueError, match="mode"):
        stopper.TrialPlateauStopper(metric="loss", metric_threshold=1.0)


def test_experiment_plateau_stopper_ends_the_experiment(ray, tune, stopper, run_config):
    stop = stopper.ExperimentPlateauStopper(metric="loss", std=0.001, top=3, mode="min")
    grid = tune.Tuner(
        flattening,
        param_space={"_backend": ray.__name__, "drop": 0.0, "steps": 1},
        run_config=run_config("expplateau", stop=stop),
    ).fit()
    assert grid.num_errors == 0
    # a flat loss: the best three values have std 0 at the third result, and patience 0
    assert grid[0].metrics["training_iteration"] == 3
    with pytest.raises(ValueError, match="mode"):
        stopper.ExperimentPlateauStopper(metric="loss", mode="avg")
    with pytest.raises(ValueError, match="Top"):
        stopper.ExperimentPlateauStopper(metric="loss", top=1)


def test_timeout_stopper_ends_an_endless_experiment(ray, tune, stopper, run_config):
    import datetime

    grid = tune.Tuner(
        endless,
        param_space={"_backend": ray.__name__},
        run_config=run_config(
            "timeout",
            stop=stopper.CombinedStopper(
                stopper.NoopStopper(), stopper.TimeoutStopper(datetime.timedelta(seconds=3))
            ),
        ),
    ).fit()
    assert grid.num_errors == 0
    # ended by the timeout, long before its 99,999 reports (on a loaded machine a trial may
    # not have reported at all by then)
    assert grid[0].metrics.get("training_iteration", 0) < 99_999
    with pytest.raises(ValueError, match="timeout"):
        stopper.TimeoutStopper("3s")
