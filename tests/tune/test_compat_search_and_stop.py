"""What decides which trials run and when they end, held to the same assertions on rayground
and real Ray: search-algorithm wrappers (`Repeater`: each suggestion run `repeat` times, the
searcher told the mean; `BasicVariantGenerator`'s options), BOHB's HyperBand (largest bracket
first, pausing before a bracket is full), `max_concurrent_trials`, and `ray.tune.stopper`'s
stoppers. The searchers are small `tune.search.Searcher` subclasses that suggest from a fixed
list, so the outcome does not depend on a random draw.

One module (one cluster per backend: real Ray's `init` costs ~20 s of CI time per module), and
small experiments (a few trials of a few steps each) for the same reason.
"""

from __future__ import annotations

import importlib
import os

import pytest


def _tune_of(config):
    return importlib.import_module(config["_backend"] + ".tune")


def make_list_searcher(tune):
    """A Searcher suggesting {"x": v} for each v of `values` in order, recording what it
    is told (on_trial_complete, on_pause, on_unpause)."""
    search = importlib.import_module(tune.__name__ + ".search")

    class ListSearcher(search.Searcher):
        def __init__(self, values, backend, metric=None, mode=None):
            super().__init__(metric=metric, mode=mode)
            self.values = list(values)
            self.backend = backend
            self.completed = {}
            self.paused = []
            self.unpaused = []
            self.suggested = {}

        def suggest(self, trial_id):
            if not self.values:
                return search.Searcher.FINISHED
            x = self.values.pop(0)
            self.suggested[trial_id] = x
            return {"x": x, "_backend": self.backend}

        def on_trial_complete(self, trial_id, result=None, error=False):
            self.completed[trial_id] = result

        def on_pause(self, trial_id):
            self.paused.append(trial_id)

        def on_unpause(self, trial_id):
            self.unpaused.append(trial_id)

    return ListSearcher


def seeded_score(config):
    """score = x + the repeat's index: the mean over a group is x + (repeat - 1) / 2."""
    tune = _tune_of(config)
    tune.report({"score": float(config["x"] + config.get("__trial_index__", 100))})


def test_repeater_runs_each_suggestion_repeat_times_and_reports_the_mean(ray, tune, run_config):
    search = importlib.import_module(tune.__name__ + ".search")
    assert search.repeater.TRIAL_INDEX == "__trial_index__"
    inner = make_list_searcher(tune)([10, 20, 30], ray.__name__, metric="score", mode="max")
    repeater = search.Repeater(inner, repeat=2)
    grid = tune.Tuner(
        seeded_score,
        tune_config=tune.TuneConfig(
            metric="score",
            mode="max",
            search_alg=repeater,
            num_samples=5,
            max_concurrent_trials=1,
        ),
        run_config=run_config("repeat"),
    ).fit()
    assert grid.num_errors == 0
    configs = sorted((r.config["x"], r.config["__trial_index__"]) for r in grid)
    # 5 trials: two full groups of 2 and one group of 1 (num_samples % repeat)
    assert configs == [(10, 0), (10, 1), (20, 0), (20, 1), (30, 0)]
    assert sorted(r.metrics["score"] for r in grid) == [10, 11, 20, 21, 30]
    # the searcher saw one trial per full group, with the group's mean; the lone x=30 trial's
    # group never completed, so it was never reported
    assert sorted(r["score"] for r in inner.completed.values()) == [10.5, 20.5]


def test_repeater_without_set_index_leaves_the_config_alone(ray, tune, run_config):
    search = importlib.import_module(tune.__name__ + ".search")
    inner = make_list_searcher(tune)([5], ray.__name__)
    grid = tune.Tuner(
        seeded_score,
        tune_config=tune.TuneConfig(
            metric="score",
            mode="max",
            search_alg=search.Repeater(inner, 2, set_index=False),
            num_samples=2,
        ),
        run_config=run_config("noindex"),
    ).fit()
    assert sorted(r.metrics["score"] for r in grid) == [105.0, 105.0]
    assert all("__trial_index__" not in r.config for r in grid)


def test_basic_variant_generator_points_to_evaluate_come_first(ray, tune, run_config):
    search = importlib.import_module(tune.__name__ + ".search")
    gen = search.BasicVariantGenerator(points_to_evaluate=[{"x": 1}, {"x": 2}], random_state=0)
    grid = tune.Tuner(
        seeded_score,
        param_space={"_backend": ray.__name__, "x": tune.randint(50, 60)},
        tune_config=tune.TuneConfig(
            metric="score", mode="max", search_alg=gen, num_samples=4, max_concurrent_trials=1
        ),
        run_config=run_config("points"),
    ).fit()
    xs = [r.config["x"] for r in sorted(grid, key=lambda r: r.path)]
    assert xs[:2] == [1, 2]
    assert all(50 <= x < 60 for x in xs[2:])


def test_basic_variant_generator_constant_grid_search(ray, tune, run_config):
    """constant_grid_search=True: the random values are drawn once and shared by every grid
    point of a sample."""
    search = importlib.import_module(tune.__name__ + ".search")
    gen = search.BasicVariantGenerator(constant_grid_search=True, random_state=1)
    grid = tune.Tuner(
        seeded_score,
        param_space={
            "_backend": ray.__name__,
            "x": tune.grid_search([1, 2, 3]),
            "noise": tune.uniform(0, 1),
        },
        tune_config=tune.TuneConfig(metric="score", mode="max", search_alg=gen, num_samples=2),
        run_config=run_config("constant"),
    ).fit()
    assert len(grid) == 6
    noise = sorted({round(r.config["noise"], 12) for r in grid})
    assert len(noise) == 2  # one draw per sample, shared by its three grid points


# ---------------------------------------------------------------- HyperBandForBOHB
def stepping(config):
    """loss_t = f(x) / t (t up to 3), checkpointing its step so a paused trial resumes where it
    was."""
    import tempfile

    tune = _tune_of(config)
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d, open(os.path.join(d, "step")) as f:
            start = int(f.read())
    for step in range(start + 1, 4):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "step"), "w") as f:
                f.write(str(step))
            tune.report(
                {"loss": ((config["x"] * 7) % 11 + 1) / step, "resumed_at": start},
                checkpoint=tune.Checkpoint.from_directory(d),
            )


@pytest.mark.timeout(300)  # real Ray restarts a trial's actor after each pause
def test_hyperband_for_bohb_fills_the_largest_bracket_first(ray, tune, schedulers, run_config):
    searcher = make_list_searcher(tune)(list(range(4)), ray.__name__)
    grid = tune.Tuner(
        # the whole cluster per trial: one runs at a time, so the order of events is fixed
        tune.with_resources(stepping, {"cpu": 2}),
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            search_alg=searcher,
            scheduler=schedulers.HyperBandForBOHB(max_t=3, reduction_factor=3),
            num_samples=4,
        ),
        run_config=run_config("bohb", checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
    ).fit()
    assert grid.num_errors == 0
    stops = {r.config["x"]: r.metrics["training_iteration"] for r in grid}
    print("BOHB stops", [stops[x] for x in range(4)])
    assert [stops[x] for x in range(4)] == EXPECTED_BOHB_STOPS
    for r in grid:  # a paused trial resumed from its checkpoint, it did not start again
        x, stop = r.config["x"], r.metrics["training_iteration"]
        assert list(r.metrics_dataframe["loss"]) == [
            ((x * 7) % 11 + 1) / t for t in range(1, stop + 1)
        ]


# What real Ray 2.60 does (and what BOHB's HyperBand gives by hand): max_t=3, eta=3 make two
# brackets; s=1 holds x=0..2 (milestones 1, 3: keeps f(0), the best of three), s=0 holds x=3
# (milestone 3), never filled, which runs to max_t when nothing else runs.
EXPECTED_BOHB_STOPS = [3, 1, 1, 3]


# ---------------------------------------------------------------- max_concurrent_trials
def test_max_concurrent_trials_counts_paused_trials_as_live(ray, tune, schedulers, run_config):
    """Ray applies max_concurrent_trials through the searcher (a ConcurrencyLimiter): a trial
    paused by BOHB still holds its slot, so with one slot each trial runs alone to the end
    (were the paused trial's slot free, the second would start and the bracket of three,
    still not full, be halved: one trial stopped at step 1)."""
    searcher = make_list_searcher(tune)(list(range(2)), ray.__name__)
    grid = tune.Tuner(
        stepping,
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            search_alg=searcher,
            scheduler=schedulers.HyperBandForBOHB(max_t=3, reduction_factor=3),
            num_samples=2,
            max_concurrent_trials=1,
        ),
        run_config=run_config("bohb1", checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
    ).fit()
    assert sorted(r.metrics["training_iteration"] for r in grid) == [3, 3]


def test_max_concurrent_trials_below_one_is_rejected(ray, tune, run_config):
    searcher = make_list_searcher(tune)([1], ray.__name__)
    tuner = tune.Tuner(
        seeded_score,
        tune_config=tune.TuneConfig(search_alg=searcher, max_concurrent_trials=-1),
        run_config=run_config("neg"),
    )
    with pytest.raises(ValueError, match="max_concurrent_trials"):
        tuner.fit()


# ---------------------------------------------------------------- by name
def test_create_scheduler_and_searcher_by_name(ray, tune, schedulers):
    search = importlib.import_module(tune.__name__ + ".search")
    asha = tune.create_scheduler("Async_HyperBand", max_t=7, grace_period=2, not_an_option=1)
    assert isinstance(asha, schedulers.AsyncHyperBandScheduler)
    assert isinstance(tune.create_scheduler("hb_bohb"), schedulers.HyperBandForBOHB)
    assert isinstance(tune.create_searcher("random"), search.BasicVariantGenerator)
    with pytest.raises(ValueError, match="must be one of"):
        tune.create_scheduler("asha")  # not one of Ray's names either


# ---------------------------------------------------------------- stoppers
def flattening(config):
    """loss falls by `drop` per step for `steps` steps, then stays flat; 12 steps at most."""
    tune = _tune_of(config)
    for step in range(1, 13):
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
    assert iterations == [(2, 4), (5, 7), (40, 12)]


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
