"""Search-algorithm wrappers and HyperBandForBOHB, held to the same assertions on rayground and
real Ray: `Repeater` (each suggestion run `repeat` times, the searcher told the mean),
`BasicVariantGenerator`'s options, and BOHB's HyperBand (largest bracket first, pausing before
a bracket is full). The searchers are small `tune.search.Searcher` subclasses that suggest from
a fixed list, so the outcome does not depend on a random draw.
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
    repeater = search.Repeater(inner, repeat=3)
    grid = tune.Tuner(
        seeded_score,
        tune_config=tune.TuneConfig(
            metric="score",
            mode="max",
            search_alg=repeater,
            num_samples=7,
            max_concurrent_trials=1,
        ),
        run_config=run_config("repeat"),
    ).fit()
    assert grid.num_errors == 0
    configs = sorted((r.config["x"], r.config["__trial_index__"]) for r in grid)
    # 7 trials: two full groups of 3 and one group of 1 (num_samples % repeat)
    assert configs == [(10, 0), (10, 1), (10, 2), (20, 0), (20, 1), (20, 2), (30, 0)]
    assert sorted(r.metrics["score"] for r in grid) == [10, 11, 12, 20, 21, 22, 30]
    # the searcher saw one trial per full group, with the group's mean; the lone x=30 trial's
    # group never completed, so it was never reported
    assert sorted(r["score"] for r in inner.completed.values()) == [11.0, 21.0]


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
    """loss_t = f(x) / t, checkpointing its step so a paused trial resumes where it was."""
    import tempfile

    tune = _tune_of(config)
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d, open(os.path.join(d, "step")) as f:
            start = int(f.read())
    for step in range(start + 1, 10):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "step"), "w") as f:
                f.write(str(step))
            tune.report(
                {"loss": ((config["x"] * 7) % 11 + 1) / step, "resumed_at": start},
                checkpoint=tune.Checkpoint.from_directory(d),
            )


@pytest.mark.timeout(600)  # real Ray restarts a trial's actor after each pause
def test_hyperband_for_bohb_fills_the_largest_bracket_first(ray, tune, schedulers, run_config):
    searcher = make_list_searcher(tune)(list(range(12)), ray.__name__)
    grid = tune.Tuner(
        # the whole cluster per trial: one runs at a time, so the order of events is fixed
        tune.with_resources(stepping, {"cpu": 2}),
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            search_alg=searcher,
            scheduler=schedulers.HyperBandForBOHB(max_t=9, reduction_factor=3),
            num_samples=12,
        ),
        run_config=run_config("bohb", checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
    ).fit()
    assert grid.num_errors == 0
    stops = {r.config["x"]: r.metrics["training_iteration"] for r in grid}
    print("BOHB stops", [stops[x] for x in range(12)])
    assert [stops[x] for x in range(12)] == EXPECTED_BOHB_STOPS
    for r in grid:  # a paused trial resumed from its checkpoint, it did not start again
        x, stop = r.config["x"], r.metrics["training_iteration"]
        assert list(r.metrics_dataframe["loss"]) == [
            ((x * 7) % 11 + 1) / t for t in range(1, stop + 1)
        ]


# What real Ray 2.60 does (and what BOHB's HyperBand gives by hand): bracket s=2 holds x=0..8
# (milestones 1, 3, 9: keeps f(0), f(8), f(5), then x=0), bracket s=1 holds x=9..11, never
# filled, halved to its best ceil(5/3)=2 when nothing else runs.
EXPECTED_BOHB_STOPS = [9, 1, 1, 1, 1, 3, 1, 1, 3, 3, 9, 9]


# ---------------------------------------------------------------- max_concurrent_trials
def test_max_concurrent_trials_counts_paused_trials_as_live(ray, tune, schedulers, run_config):
    """Ray applies max_concurrent_trials through the searcher (a ConcurrencyLimiter): a trial
    paused by BOHB still holds its slot, so with one slot each trial runs alone to the end."""
    searcher = make_list_searcher(tune)(list(range(4)), ray.__name__)
    grid = tune.Tuner(
        stepping,
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            search_alg=searcher,
            scheduler=schedulers.HyperBandForBOHB(max_t=9, reduction_factor=3),
            num_samples=4,
            max_concurrent_trials=1,
        ),
        run_config=run_config("bohb1", checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
    ).fit()
    assert sorted(r.metrics["training_iteration"] for r in grid) == [9, 9, 9, 9]


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
