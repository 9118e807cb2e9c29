"""MedianStoppingRule, PopulationBasedTraining and ConcurrencyLimiter on rayground: what they
decide, seen from the results (who stopped, who was exploited, how many ran at once)."""

from __future__ import annotations

import json
import os
import tempfile
import time

import pytest

import rayground
from rayground import tune
from rayground.tune.schedulers import MedianStoppingRule, PopulationBasedTraining
from rayground.tune.search import ConcurrencyLimiter, Searcher


@pytest.fixture(scope="module", autouse=True)
def cluster():
    rayground.init(num_cpus=2)
    yield
    rayground.shutdown()


def run(trainable, param_space, storage, run_kwargs=None, **tune_config):
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(**tune_config),
        run_config=tune.RunConfig(storage_path=str(storage), verbose=0, **(run_kwargs or {})),
    ).fit()


def flat_curve(config):
    for _ in range(6):
        tune.report({"loss": config["level"]})


def test_median_rule_stops_trials_worse_than_the_median(tmp_path):
    rule = MedianStoppingRule(
        time_attr="training_iteration", grace_period=2, min_samples_required=2
    )
    grid = run(
        flat_curve,
        {"level": tune.grid_search([1.0, 2.0, 3.0, 10.0])},
        tmp_path,
        metric="loss",
        mode="min",
        scheduler=rule,
        max_concurrent_trials=1,
    )
    iters = [r.metrics["training_iteration"] for r in grid]
    # The first two have too few others to compare with; 3.0 and 10.0 are worse than the
    # median of the finished ones (1.5) at their first decision point, iteration 2.
    assert iters == [6, 6, 2, 2]


def pbt_trainable(config):
    # A barrier: the first two trials wait for each other, so both are alive (and scored)
    # when PBT compares them, whatever order their actors start in.
    marks = config["marks"]
    open(os.path.join(marks, str(config["lr"])), "w").close()
    deadline = time.monotonic() + 60
    while len(os.listdir(marks)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    step, score, lineage = 0, 0.0, []
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d, open(os.path.join(d, "state")) as f:
            state = json.load(f)
        step, score, lineage = state["step"], state["score"], state["lineage"]
    while step < 16:
        step += 1
        score += config["lr"]
        lineage.append(config["lr"])
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state"), "w") as f:
                json.dump({"step": step, "score": score, "lineage": lineage}, f)
            tune.report(
                {"score": score, "lineage": list(lineage)},
                checkpoint=tune.Checkpoint.from_directory(d),
            )


def test_pbt_exploits_a_better_trials_checkpoint_and_perturbs_its_config(tmp_path):
    lrs = [0.1, 0.2, 0.3, 0.4]
    marks = tmp_path / "marks"
    marks.mkdir()
    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=1,
        hyperparam_mutations={"lr": lrs},
        resample_probability=0.0,
    )
    grid = run(
        pbt_trainable,
        {"lr": tune.grid_search(lrs), "marks": str(marks)},
        tmp_path,
        metric="score",
        mode="max",
        scheduler=pbt,
    )
    assert grid.num_errors == 0
    assert pbt.exploits, "no trial was ever in the bottom quantile"
    for exploit in pbt.exploits:
        assert exploit["config"]["lr"] in lrs
        assert exploit["operations"]["lr"].startswith("shift")
    exploited_at = {e["trial_id"]: e["time"] for e in pbt.exploits}
    continued = 0
    for original_lr, result in zip(lrs, grid, strict=True):
        lineage = result.metrics["lineage"]
        assert len(lineage) == result.metrics["training_iteration"]
        at = exploited_at.get(result.metrics["trial_id"])
        if at is not None and result.metrics["training_iteration"] > at:
            # It went on from another trial's checkpoint: that trial's steps are in its past.
            continued += 1
            assert set(lineage) != {original_lr}
        elif at is None:
            assert lineage == [original_lr] * 16
    assert continued >= 1


class CountingSearcher(Searcher):
    """Suggests x = 0, 1, 2, ... and records how many trials were live at each suggestion."""

    def __init__(self):
        super().__init__(metric="loss", mode="min")
        self.next_x = 0

    def suggest(self, trial_id):
        self.next_x += 1
        return {"x": self.next_x - 1}


def sleepy(config):
    tune.report({"loss": float(config["x"]), "pid": os.getpid()})


def test_concurrency_limiter_keeps_at_most_n_trials_live(tmp_path):
    searcher = CountingSearcher()
    limiter = ConcurrencyLimiter(searcher, max_concurrent=1)
    grid = run(sleepy, {}, tmp_path, search_alg=limiter, num_samples=4)
    assert sorted(r.config["x"] for r in grid) == [0, 1, 2, 3]
    # One live trial at a time: one actor, reused for every trial.
    assert len({r.metrics["pid"] for r in grid}) == 1
    assert grid.get_best_result("loss", "min").config["x"] == 0
