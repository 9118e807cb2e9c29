"""Ray Tune behaviour users rely on, held to the same assertions on rayground and real Ray.

Each test runs a small experiment (a few trials, a few reports) through the public API only:
`Tuner(...).fit()` / `tune.run(...)`, then reads the ResultGrid / ExperimentAnalysis and the
files under storage_path. Trainables are module-level functions so both backends can ship them.
"""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

from _needs import need_module


# ---------------------------------------------------------------- trainables
def report_config(config):
    from importlib import import_module

    tune = import_module(config["_backend"] + ".tune")
    for _ in range(config.get("iters", 1)):
        tune.report({"score": 1.0, **{k: v for k, v in config.items() if k != "_backend"}})


def _tune_of(config):
    from importlib import import_module

    return import_module(config["_backend"] + ".tune")


def curve(config):
    """loss = x / step: reports `iters` times."""
    tune = _tune_of(config)
    for step in range(1, config.get("iters", 3) + 1):
        tune.report({"loss": config["x"] / step, "step": step})


def fails_for_two(config):
    tune = _tune_of(config)
    if config["x"] == 2:
        raise ValueError("x=2 is not allowed")
    tune.report({"loss": float(config["x"])})


def checkpointing(config):
    """Saves its step in a checkpoint every report; resumes from tune.get_checkpoint(); fails
    once at step `fail_at` when the marker file does not exist yet."""
    import tempfile

    tune = _tune_of(config)
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d, open(os.path.join(d, "step.txt")) as f:
            start = int(f.read())
    for step in range(start + 1, config["iters"] + 1):
        if step == config.get("fail_at") and not os.path.exists(config["marker"]):
            open(config["marker"], "w").close()
            raise RuntimeError("first attempt dies here")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "step.txt"), "w") as f:
                f.write(str(step))
            tune.report(
                {"loss": 1.0 / step, "step": step, "started_at": start},
                checkpoint=tune.Checkpoint.from_directory(d),
            )


def uses_data(config, data=None):
    tune = _tune_of(config)
    tune.report({"total": float(np.sum(data)) * config["k"]})


def only_accuracy(config):
    _tune_of(config).report({"acc": 1.0})


def context_info(config):
    tune = _tune_of(config)
    ctx = tune.get_context()
    tune.report({"same_id": ctx.get_trial_id() in ctx.get_trial_dir(), "cp": repr(None)})


def in_placement_group(config):
    """Reports the group it runs in, the group a task it starts runs in (Ray Tune's trial
    actor captures its children), and the resources Tune says it has."""
    import importlib

    ray = importlib.import_module(config["_backend"])
    tune = _tune_of(config)

    @ray.remote(num_cpus=1)
    def child():
        group = ray.util.get_current_placement_group()
        return None if group is None else group.id.hex()

    group = ray.util.get_current_placement_group()
    resources = tune.get_context().get_trial_resources()
    tune.report(
        {
            "bundles": group.bundle_specs,
            "same_group": ray.get(child.remote()) == group.id.hex(),
            "required": resources.required_resources,
            "head_cpus": resources.head_cpus,
        }
    )


def fixed_curves(config):
    """Trial i reports the i-th fixed loss curve, one value per iteration."""
    tune = _tune_of(config)
    for value in CURVES[config["i"]]:
        tune.report({"loss": value})


# Ten loss curves (12 steps each), chosen so ASHA (grace 1, rf 2, max_t 12) stops trials at
# different rungs: trial order matters, so trials run one at a time.
_rng = np.random.default_rng(4)
CURVES = [
    [float(round(v, 4)) for v in (b + 0.6 * _rng.random(12) + s / np.arange(1, 13))]
    for b, s in zip(_rng.random(10), _rng.random(10) * 2, strict=True)
]


def space(ray, **values):
    """A param space that tells the trainable which backend's tune to import."""
    return {"_backend": ray.__name__, **values}


# ---------------------------------------------------------------- search spaces
@pytest.mark.timeout(400)  # twelve trials; real Ray starts an actor for each
def test_grid_search_expands_with_num_samples_in_rays_order(ray, tune, run_config):
    param_space = space(
        ray,
        a=tune.grid_search([1, 2]),
        b=tune.grid_search(["x", "y", "z"]),
        c=tune.uniform(0.0, 1.0),
        nested={"d": tune.choice([10, 20]), "e": 5},
    )
    grid = tune.Tuner(
        report_config,
        param_space=param_space,
        tune_config=tune.TuneConfig(num_samples=2),
        run_config=run_config(),
    ).fit()
    assert len(grid) == 12
    order = [(r.config["a"], r.config["b"]) for r in grid]
    one_pass = [(1, "x"), (2, "x"), (1, "y"), (2, "y"), (1, "z"), (2, "z")]
    assert order == one_pass * 2
    for r in grid:
        assert 0.0 <= r.config["c"] < 1.0
        assert r.config["nested"]["d"] in (10, 20) and r.config["nested"]["e"] == 5
    assert len({r.config["c"] for r in grid}) == 12  # drawn afresh for every trial


@pytest.mark.timeout(400)  # twelve trials; real Ray starts an actor for each
def test_every_domain_draws_inside_its_bounds(ray, tune, run_config):
    param_space = space(
        ray,
        u=tune.uniform(-1, 1),
        qu=tune.quniform(0, 10, 2.5),
        lu=tune.loguniform(1e-4, 1e-1),
        qlu=tune.qloguniform(1e-2, 1.0, 1e-2),
        n=tune.randn(5, 0.1),
        qn=tune.qrandn(0, 1, 0.5),
        ri=tune.randint(0, 3),
        qri=tune.qrandint(0, 10, 5),
        lri=tune.lograndint(1, 100),
        ch=tune.choice(["a", "b"]),
        dep=tune.sample_from(lambda config: config["ri"] * 10),
    )
    grid = tune.Tuner(
        report_config,
        param_space=param_space,
        tune_config=tune.TuneConfig(num_samples=12),
        run_config=run_config(),
    ).fit()
    assert grid.num_errors == 0
    for r in grid:
        c = r.config
        assert -1 <= c["u"] < 1
        assert c["qu"] in (0.0, 2.5, 5.0, 7.5, 10.0)
        assert 1e-4 <= c["lu"] < 1e-1
        assert 1e-2 <= c["qlu"] <= 1.0 and abs(c["qlu"] / 1e-2 - round(c["qlu"] / 1e-2)) < 1e-6
        assert 4 < c["n"] < 6
        assert c["qn"] % 0.5 == 0
        assert c["ri"] in (0, 1, 2)  # upper bound excluded
        assert c["qri"] in (0, 5, 10)  # upper bound included
        assert 1 <= c["lri"] < 100 and isinstance(c["lri"], int)
        assert c["ch"] in ("a", "b")
        assert c["dep"] == c["ri"] * 10


# ---------------------------------------------------------------- results
def test_result_grid_best_result_dataframes_and_paths(ray, tune, run_config, storage):
    grid = tune.Tuner(
        curve,
        param_space=space(ray, x=tune.grid_search([3.0, 1.0, 2.0]), iters=4),
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=run_config("results"),
    ).fit()
    assert len(grid) == 3 and grid.num_terminated == 3 and grid.num_errors == 0
    assert grid.errors == []
    best = grid.get_best_result()
    assert best.config["x"] == 1.0
    assert best.metrics["loss"] == pytest.approx(0.25)
    assert best.metrics["training_iteration"] == 4
    assert best.metrics["config"]["x"] == 1.0
    worst = grid.get_best_result(metric="loss", mode="max")
    assert worst.config["x"] == 3.0
    assert grid.get_best_result("step", "max", scope="all").metrics["step"] == 4
    frame = best.metrics_dataframe
    assert list(frame["loss"]) == pytest.approx([1.0, 0.5, 1 / 3, 0.25])
    df = grid.get_dataframe()
    assert len(df) == 3 and "config/x" in df.columns and "loss" in df.columns
    by_min = grid.get_dataframe(filter_metric="loss", filter_mode="max")
    assert sorted(by_min["loss"]) == pytest.approx([1.0, 2.0, 3.0])
    assert best.path.startswith(os.path.join(storage, "results"))
    assert os.path.exists(os.path.join(best.path, "result.json"))
    assert os.path.exists(os.path.join(best.path, "params.json"))
    assert grid[0].config["x"] == 3.0


def test_a_failing_trial_is_recorded_and_the_others_finish(ray, tune, run_config):
    grid = tune.Tuner(
        fails_for_two,
        param_space=space(ray, x=tune.grid_search([1, 2, 3])),
        run_config=run_config(),
    ).fit()
    assert grid.num_errors == 1 and grid.num_terminated == 2
    (error,) = grid.errors
    assert isinstance(error, ValueError) and "x=2 is not allowed" in str(error)
    assert grid[1].error is error or isinstance(grid[1].error, ValueError)
    assert grid[0].error is None and grid[0].metrics["loss"] == 1.0
    assert os.path.exists(os.path.join(grid[1].path, "error.txt"))


def test_max_failures_retries_from_the_last_checkpoint(ray, tune, run_config, tmp_path):
    marker = str(tmp_path / "failed-once")
    grid = tune.Tuner(
        checkpointing,
        param_space=space(ray, iters=5, fail_at=4, marker=marker),
        run_config=run_config(failure_config=tune.FailureConfig(max_failures=1)),
    ).fit()
    assert grid.num_errors == 0
    result = grid[0]
    assert result.metrics["step"] == 5
    assert result.metrics["started_at"] == 3  # resumed after the checkpoint of step 3
    assert result.metrics["training_iteration"] == 5
    with result.checkpoint.as_directory() as d, open(os.path.join(d, "step.txt")) as f:
        assert f.read() == "5"


def test_without_retries_the_failure_is_the_result(ray, tune, run_config, tmp_path):
    grid = tune.Tuner(
        checkpointing,
        param_space=space(ray, iters=5, fail_at=2, marker=str(tmp_path / "m")),
        run_config=run_config(),
    ).fit()
    assert grid.num_errors == 1
    assert isinstance(grid[0].error, RuntimeError)
    assert grid[0].metrics["step"] == 1
    assert grid[0].checkpoint is not None


def test_checkpoints_are_kept_under_storage_and_pruned(ray, tune, run_config, tmp_path):
    grid = tune.Tuner(
        checkpointing,
        param_space=space(ray, iters=4),
        run_config=run_config(
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        ),
    ).fit()
    result = grid[0]
    kept = sorted(n for n in os.listdir(result.path) if n.startswith("checkpoint_"))
    assert len(kept) == 2
    assert result.checkpoint.path.startswith(result.path)
    copy = result.checkpoint.to_directory(str(tmp_path / "copy"))
    with open(os.path.join(copy, "step.txt")) as f:
        assert f.read() == "4"
    again = tune.Checkpoint.from_directory(copy)
    with again.as_directory() as d:
        assert os.path.exists(os.path.join(d, "step.txt"))
    # the kept checkpoints, each with the result it was reported with
    assert sorted(r["step"] for _, r in result.best_checkpoints) == [3, 4]

    def step_of(checkpoint):
        with open(os.path.join(checkpoint.path, "step.txt")) as f:
            return int(f.read())

    assert step_of(result.get_best_checkpoint("loss", "min")) == 4
    assert step_of(result.get_best_checkpoint("step", "min")) == 3
    with pytest.raises(RuntimeError, match="Invalid metric name"):
        result.get_best_checkpoint("accuracy", "max")
    with pytest.raises(ValueError, match="Unsupported mode"):
        result.get_best_checkpoint("loss", "avg")
    assert os.path.realpath(grid.experiment_path) == os.path.realpath(os.path.dirname(result.path))


def test_stop_as_dict_and_as_function(ray, tune, run_config):
    grid = tune.Tuner(
        curve,
        param_space=space(ray, x=tune.grid_search([1.0, 2.0]), iters=10),
        run_config=run_config("d", stop={"training_iteration": 3}),
    ).fit()
    assert [r.metrics["training_iteration"] for r in grid] == [3, 3]
    grid = tune.Tuner(
        curve,
        param_space=space(ray, x=tune.grid_search([1.0, 2.0]), iters=10),
        run_config=run_config("f", stop=lambda trial_id, result: result["loss"] <= 0.5),
    ).fit()
    assert [r.metrics["step"] for r in grid] == [2, 4]


def test_with_parameters_and_with_resources(ray, tune, run_config):
    data = np.arange(1000, dtype=np.float64)
    trainable = tune.with_resources(tune.with_parameters(uses_data, data=data), {"cpu": 1})
    grid = tune.Tuner(
        trainable,
        param_space=space(ray, k=tune.grid_search([1, 2])),
        run_config=run_config(),
    ).fit()
    assert [r.metrics["total"] for r in grid] == [data.sum(), 2 * data.sum()]


def test_with_resources_placement_group_factory(ray, tune, run_config):
    """Bundles: the trial's actor takes the first, the tasks it starts run in the group's
    other bundles; get_trial_resources() is the factory (a dict becomes one bundle)."""
    factory = tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 1, "GPU": 0}], strategy="PACK")
    assert factory.bundles == [{"CPU": 1.0}, {"CPU": 1.0}]  # zeros dropped, as Ray
    assert factory.required_resources == {"CPU": 2.0} and factory.head_cpus == 1.0
    assert factory == tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 1}])
    empty_head = tune.PlacementGroupFactory([{}, {"CPU": 2}])
    assert empty_head.head_bundle_is_empty and empty_head.head_cpus == 0.0
    with pytest.raises(ValueError, match="zero bundles"):
        tune.PlacementGroupFactory([])
    grid = tune.Tuner(
        tune.with_resources(in_placement_group, factory),
        param_space=space(ray, k=tune.grid_search([1, 2])),
        run_config=run_config("pgf"),
    ).fit()
    assert grid.num_errors == 0
    for r in grid:
        assert r.metrics["bundles"] == [{"CPU": 1.0}, {"CPU": 1.0}]
        assert r.metrics["same_group"] is True
        assert r.metrics["required"] == {"CPU": 2.0} and r.metrics["head_cpus"] == 1.0
    grid = tune.Tuner(
        tune.with_resources(context_resources, {"cpu": 1}),
        param_space=space(ray),
        run_config=run_config("dict"),
    ).fit()
    assert grid[0].metrics["required"] == {"CPU": 1.0}


def context_resources(config):
    tune = _tune_of(config)
    tune.report({"required": tune.get_context().get_trial_resources().required_resources})


def test_get_context_names_the_trial(ray, tune, run_config):
    grid = tune.Tuner(context_info, param_space=space(ray), run_config=run_config()).fit()
    assert grid[0].metrics["same_id"] is True


# ---------------------------------------------------------------- legacy tune.run
def test_tune_run_returns_experiment_analysis(ray, tune, storage):
    analysis = tune.run(
        curve,
        config=space(ray, x=tune.grid_search([2.0, 1.0, 3.0]), iters=2),
        metric="loss",
        mode="min",
        resources_per_trial={"cpu": 1, "gpu": 0},
        storage_path=storage,
        verbose=0,
    )
    assert analysis.best_config["x"] == 1.0
    assert analysis.get_best_config(metric="loss", mode="max")["x"] == 3.0
    assert analysis.best_result["loss"] == pytest.approx(0.5)
    best = analysis.get_best_trial("loss", "min", "last")
    assert best.config["x"] == 1.0 and best.last_result["training_iteration"] == 2
    assert len(analysis.results_df) == 3 and "loss" in analysis.results_df.columns
    assert len(analysis.dataframe(metric="loss", mode="min")) == 3
    with pytest.raises(AttributeError, match="get_best_result"):
        analysis.get_best_result()
    assert os.path.isdir(analysis.experiment_path)
    # curve reports no checkpoints: the best trial has no last checkpoint
    assert analysis.get_last_checkpoint() is None


# ---------------------------------------------------------------- ASHA, deterministic
@pytest.mark.timeout(400)  # real Ray starts ten trials one after another
def test_asha_stops_the_same_trials_at_the_same_rungs(ray, tune, schedulers, run_config):
    scheduler = schedulers.ASHAScheduler(max_t=12, grace_period=1, reduction_factor=2)
    grid = tune.Tuner(
        fixed_curves,
        param_space=space(ray, i=tune.grid_search(list(range(len(CURVES))))),
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=scheduler, max_concurrent_trials=1
        ),
        run_config=run_config(),
    ).fit()
    stopped_at = [r.metrics["training_iteration"] for r in grid]
    assert stopped_at == EXPECTED_ASHA_STOPS


# What real Ray 2.60 does with CURVES (the reference; rayground must match it): rung 1 stops
# trials 4, 6, 7, rung 4 stops 2, 8, 9, rung 8 stops 5; 0, 1, 3 reach max_t.
EXPECTED_ASHA_STOPS = [12, 12, 4, 12, 1, 8, 1, 1, 4, 4]


# ---------------------------------------------------------------- HyperBand, deterministic
def make_curve_trainable(tune):
    """A Trainable that reports CURVES[i], one value per step, and checkpoints its place, so
    HyperBand can pause it at a milestone and resume it later."""

    class CurveTrainable(tune.Trainable):
        def setup(self, config):
            self.resumes = 0

        def step(self):
            return {"loss": CURVES[self.config["i"]][self.iteration], "resumes": self.resumes}

        def save_checkpoint(self, checkpoint_dir):
            with open(os.path.join(checkpoint_dir, "resumes"), "w") as f:
                f.write(str(self.resumes))

        def load_checkpoint(self, checkpoint_dir):
            with open(os.path.join(checkpoint_dir, "resumes")) as f:
                self.resumes = int(f.read()) + 1

    return CurveTrainable


def hyperband_reference(curves, max_t, eta):
    """HyperBand's outcome written from its definition (not from either implementation):
    trials fill brackets s = 0, 1, ... of n0(s) = ceil(s_max_1 / (s + 1) * eta**s) trials in
    creation order; bracket s runs its trials to r0(s) = max_t * eta**-s, keeps the best
    ceil(n / eta) and multiplies the milestone by eta (at most max_t), s times; its last
    milestone stops everyone. The iteration each trial stopped at."""
    s_max_1 = int(np.round(np.log(max_t) / np.log(eta))) + 1
    stops, index, s = [0] * len(curves), 0, 0
    while index < len(curves):
        n = int(np.ceil(s_max_1 / (s + 1) * eta**s))
        r = int(max_t * eta ** (-s))
        live = list(range(index, min(index + n, len(curves))))
        index += n
        for _ in range(s):
            n = int(np.ceil(n / eta))
            live.sort(key=lambda t: curves[t][r - 1])
            for t in live[n:]:
                stops[t] = r
            live = live[:n]
            r = int(min(r * eta, max_t))
        for t in live:
            stops[t] = r
        s = (s + 1) % s_max_1
    return stops


@pytest.mark.timeout(500)  # real Ray restarts a trial's actor after each pause
def test_hyperband_halves_each_bracket_at_its_milestones(ray, tune, schedulers, run_config):
    scheduler = schedulers.HyperBandScheduler(max_t=4, reduction_factor=2)
    grid = tune.Tuner(
        make_curve_trainable(tune),
        param_space={"i": tune.grid_search(list(range(len(CURVES))))},
        tune_config=tune.TuneConfig(metric="loss", mode="min", scheduler=scheduler),
        run_config=run_config(checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
    ).fit()
    assert grid.num_errors == 0
    # brackets: s=0 trials 0-2 (milestone 4), s=1 trials 3-5 (2, 4), s=2 trials 6-9 (1, 2, 4)
    expected = hyperband_reference(CURVES, max_t=4, eta=2)
    assert expected == EXPECTED_HYPERBAND_STOPS
    results = sorted(grid, key=lambda r: r.config["i"])
    assert [r.metrics["training_iteration"] for r in results] == expected
    for r in results:
        # every value of the curve up to the stop, once each: a paused trial resumed where it
        # was (from its checkpoint), it did not start again
        i, stop = r.config["i"], r.metrics["training_iteration"]
        assert list(r.metrics_dataframe["loss"]) == CURVES[i][:stop]
    # paused at a milestone and resumed later: only trials that went on past their first
    # milestone (the last to reach a milestone goes on without a pause)
    first = [4] * 3 + [2] * 3 + [1] * 4
    resumed = [r.metrics["resumes"] > 0 for r in results]
    assert any(resumed)
    assert all(stop > f for stop, f, res in zip(expected, first, resumed, strict=True) if res)


# What real Ray 2.60 does with CURVES under HyperBandScheduler(max_t=4, reduction_factor=2).
EXPECTED_HYPERBAND_STOPS = [4, 4, 4, 4, 2, 4, 1, 1, 2, 4]


# ---------------------------------------------------------------- PBT, synchronous
def accumulating(config):
    """acc grows by lr each step; acc and the step count travel in the checkpoint, and every
    step is logged (trial id, step) to a shared file before it is reported."""
    import tempfile

    tune = _tune_of(config)
    acc, step = 0.0, 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d, open(os.path.join(d, "state")) as f:
            saved_acc, saved_step = f.read().split()
        acc, step = float(saved_acc), int(saved_step)
    trial_id = tune.get_context().get_trial_id()
    while step < 100:
        acc += config["lr"]
        step += 1
        with open(config["log"], "a") as f:
            f.write(f"{trial_id} {step}\n")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state"), "w") as f:
                f.write(f"{acc} {step}")
            tune.report({"acc": acc, "step": step}, checkpoint=tune.Checkpoint.from_directory(d))


@pytest.mark.timeout(500)  # real Ray restarts each trial's actor after every pause
def test_synchronous_pbt_perturbs_the_whole_population_at_once(
    ray, tune, schedulers, run_config, tmp_path
):
    log = tmp_path / "steps.log"
    pbt = schedulers.PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=2,
        hyperparam_mutations={"lr": tune.uniform(0.1, 100.0)},
        quantile_fraction=0.25,
        resample_probability=0.0,
        perturbation_factors=(2.0, 2.0),
        synch=True,
    )
    grid = tune.Tuner(
        accumulating,
        param_space={
            "_backend": ray.__name__,
            "lr": tune.grid_search([1.0, 2.0, 3.0, 4.0]),
            "log": str(log),
        },
        tune_config=tune.TuneConfig(metric="acc", mode="max", scheduler=pbt),
        run_config=run_config(stop={"training_iteration": 6}),
    ).fit()
    assert grid.num_errors == 0
    # At step 2 (acc 2, 4, 6, 8) the lr=1 trial copies lr=4's checkpoint (acc 8) with lr 8;
    # at step 4 (acc 24, 8, 12, 16) the lr=2 trial copies it (acc 24) with lr 16.
    results = sorted(grid, key=lambda r: r.metrics["trial_id"])
    assert [r.config["lr"] for r in results] == [8.0, 16.0, 3.0, 4.0]
    assert [r.metrics["acc"] for r in results] == [40.0, 56.0, 18.0, 24.0]
    assert [r.metrics["training_iteration"] for r in results] == [6, 6, 6, 6]
    # synchronous: no trial takes step 3 (or 5) before every trial has taken step 2 (or 4)
    steps = [int(line.split()[1]) for line in log.read_text().splitlines()]
    for point in (2, 4):
        last_at_point = max(i for i, s in enumerate(steps) if s == point)
        first_after = min(i for i, s in enumerate(steps) if s > point)
        assert last_at_point < first_after, steps


# ---------------------------------------------------------------- OptunaSearch
def bowl(config):
    tune = _tune_of(config)
    loss = (config["x"] - 3) ** 2 + (config["k"] - 2) ** 2 + (config["c"] == "b") + config["lr"]
    for step in range(1, 3):
        tune.report({"loss": loss / step})


@pytest.mark.timeout(400)  # real Ray starts an actor for each trial
def test_optuna_search_draws_optunas_configs_and_tells_it_the_results(ray, tune, run_config):
    optuna = need_module("optuna", "optuna is not installed: the `tune` extra")
    OptunaSearch = importlib.import_module(f"{ray.__name__}.tune.search.optuna").OptunaSearch
    searcher = OptunaSearch(seed=7)
    grid = tune.Tuner(
        bowl,
        param_space={
            "_backend": ray.__name__,
            "x": tune.uniform(-5.0, 5.0),
            "lr": tune.loguniform(1e-4, 1e-1),
            "k": tune.randint(0, 5),
            "c": tune.choice(["a", "b"]),
        },
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=6, search_alg=searcher),
        run_config=run_config(),
    ).fit()
    assert grid.num_errors == 0 and len(grid) == 6
    # The reference: Optuna itself, asked the same questions with the same seed (TPE draws
    # its first 10 configs at random, so they depend on the seed alone).
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=7))
    dists = {
        "x": optuna.distributions.FloatDistribution(-5.0, 5.0),
        "lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
        "k": optuna.distributions.IntDistribution(0, 4),
        "c": optuna.distributions.CategoricalDistribution(["a", "b"]),
    }
    expected = [study.ask(fixed_distributions=dists).params for _ in range(6)]
    configs = [{k: r.config[k] for k in dists} for r in grid]
    assert configs == expected
    assert all(isinstance(c["k"], int) for c in configs)
    best = grid.get_best_result()
    assert best.metrics["loss"] == min(r.metrics["loss"] for r in grid)


@pytest.mark.timeout(400)  # real Ray starts an actor for each trial
def test_hyperopt_search_suggests_hyperopts_configs_and_learns(ray, tune, run_config):
    """A point to evaluate first (a choice given by value), then two random draws, then TPE,
    which draws from what it was told of the trials before (one trial at a time, so what it
    knew at each suggestion is fixed): the same configs as Ray's wrapper, seed for seed."""
    need_module("hyperopt", "hyperopt is not installed: the `tune` extra")
    HyperOptSearch = importlib.import_module(f"{ray.__name__}.tune.search.hyperopt").HyperOptSearch
    point = {"x": 0.5, "lr": 0.01, "k": 1, "c": "b"}
    searcher = HyperOptSearch(points_to_evaluate=[point], n_initial_points=2, random_state_seed=5)
    grid = tune.Tuner(
        bowl,
        param_space={
            "_backend": ray.__name__,
            "x": tune.uniform(-5.0, 5.0),
            "lr": tune.loguniform(1e-4, 1e-1),
            "k": tune.randint(0, 5),
            "c": tune.choice(["a", "b"]),
        },
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", num_samples=5, search_alg=searcher, max_concurrent_trials=1
        ),
        run_config=run_config("hyperopt"),
    ).fit()
    assert grid.num_errors == 0 and len(grid) == 5
    # (Ray names a searcher's trials by random ids: compare the configs, not their order)
    configs = [{k: r.config[k] for k in point} for r in grid]
    assert point in configs
    rounded = [
        {k: round(v, 6) if isinstance(v, float) else v for k, v in c.items()} for c in configs
    ]
    assert sorted(rounded, key=repr) == sorted(EXPECTED_HYPEROPT, key=repr)
    with pytest.raises(AssertionError, match="mode"):
        HyperOptSearch(mode="avg")
    with pytest.raises(ValueError, match="Grid search"):
        HyperOptSearch(space={"x": tune.grid_search([1, 2])})


# What real Ray 2.60's HyperOptSearch suggests (hyperopt 0.3.0) for this seed, space and order.
EXPECTED_HYPEROPT = [
    {"x": 0.5, "lr": 0.01, "k": 1, "c": "b"},
    {"x": -3.944088, "lr": 0.003598, "k": 2, "c": "a"},
    {"x": 4.696717, "lr": 0.084581, "k": 0, "c": "b"},
    {"x": 4.980982, "lr": 0.097419, "k": 4, "c": "b"},
    {"x": 4.642149, "lr": 0.000185, "k": 0, "c": "b"},
]


def test_optuna_search_learns_from_every_trial(tmp_path):
    """rayground: each trial ends as a COMPLETE Optuna trial carrying its last metric, and its
    reports are Optuna's intermediate values."""
    optuna = need_module("optuna", "optuna is not installed: the `tune` extra")
    import rayground
    from rayground import tune
    from rayground.tune.search.optuna import OptunaSearch

    searcher = OptunaSearch(seed=3)
    started = not rayground.is_initialized()
    try:
        grid = tune.Tuner(
            bowl,
            param_space={
                "_backend": "rayground",
                "x": tune.uniform(-5.0, 5.0),
                "lr": tune.loguniform(1e-4, 1e-1),
                "k": tune.randint(0, 5),
                "c": tune.choice(["a", "b"]),
            },
            tune_config=tune.TuneConfig(
                metric="loss", mode="min", num_samples=12, search_alg=searcher
            ),
            run_config=tune.RunConfig(storage_path=str(tmp_path), name="optuna", verbose=0),
        ).fit()
    finally:
        if started:
            rayground.shutdown()
    trials = searcher._ot_study.trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 12
    assert [t.value for t in trials] == [r.metrics["loss"] for r in grid]
    assert [t.intermediate_values for t in trials] == [
        {1: 2 * r.metrics["loss"], 2: r.metrics["loss"]} for r in grid
    ]
    # after its 10 random draws TPE proposes from what it was told: all inside the space
    assert all(-5.0 <= r.config["x"] <= 5.0 and r.config["k"] in range(5) for r in grid)


def test_optuna_search_takes_optuna_distributions_and_define_by_run(ray):
    optuna = need_module("optuna", "optuna is not installed: the `tune` extra")
    OptunaSearch = importlib.import_module(f"{ray.__name__}.tune.search.optuna").OptunaSearch
    dist = optuna.distributions.FloatDistribution(0.0, 1.0)
    nested = OptunaSearch(space={"a": {"b": dist}}, metric="m", mode="min", seed=1)
    reference = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    expected = reference.ask(fixed_distributions={"a/b": dist}).params["a/b"]
    assert nested.suggest("t1") == {"a": {"b": expected}}

    def space(trial):
        return {"double": 2 * trial.suggest_int("n", 1, 3)}

    by_run = OptunaSearch(space=space, metric="m", mode="min", seed=1)
    drawn = by_run.suggest("t1")
    assert set(drawn) == {"n", "double"} and drawn["double"] == 2 * drawn["n"]


def test_optuna_search_refuses_a_grid_and_a_normal_distribution(ray, tune):
    need_module("optuna", "optuna is not installed: the `tune` extra")
    OptunaSearch = importlib.import_module(f"{ray.__name__}.tune.search.optuna").OptunaSearch
    with pytest.raises(ValueError, match="Grid search parameters cannot be automatically"):
        OptunaSearch.convert_search_space({"a": tune.grid_search([1, 2])})
    with pytest.raises(ValueError, match="Optuna search does not support parameters of type"):
        OptunaSearch.convert_search_space({"a": tune.randn(0, 1)})


# ---------------------------------------------------------------- ray.train's names in Tune
def reports_through_train(config):
    from importlib import import_module

    import_module(config["_backend"] + ".train").report({"loss": 1.0})


def test_train_report_in_a_tune_trial_points_to_tune_report(ray, tune, run_config):
    train = importlib.import_module(f"{ray.__name__}.train")
    with pytest.raises(RuntimeError, match="cannot be used outside of a Ray Train training"):
        train.report({"loss": 1.0})
    grid = tune.Tuner(reports_through_train, param_space=space(ray), run_config=run_config()).fit()
    (error,) = grid.errors
    assert isinstance(error, DeprecationWarning)
    assert "`ray.train.report` is deprecated when running in a function passed to Ray Tune" in (
        str(error)
    )
    assert "`ray.tune` API" in str(error)


# ---------------------------------------------------------------- bad input
def test_mode_other_than_min_or_max_is_rejected(ray, tune, storage):
    with pytest.raises(ValueError, match=r"must be one of \['min', 'max'\]"):
        tune.run(
            only_accuracy,
            config=space(ray),
            metric="acc",
            mode="maximize",
            storage_path=storage,
            verbose=0,
        )


def test_a_metric_never_reported_is_an_error_naming_it(ray, tune, run_config):
    tuner = tune.Tuner(
        only_accuracy,
        param_space=space(ray),
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=run_config(),
    )
    with pytest.raises(tune.TuneError, match="did not include the specified metric"):
        tuner.fit()


# ---------------------------------------------------------------- class Trainable


def make_counter_trainable(tune):
    class CountingTrainable(tune.Trainable):
        def setup(self, config):
            self.total = 0.0
            self.restored_from = 0

        def step(self):
            if self.iteration == 2 and not os.path.exists(self.config["marker"]):
                open(self.config["marker"], "w").close()
                raise RuntimeError("dies once at iteration 3")
            self.total += self.config["inc"]
            return {"total": self.total, "restored_from": self.restored_from}

        def save_checkpoint(self, checkpoint_dir):
            with open(os.path.join(checkpoint_dir, "total"), "w") as f:
                f.write(f"{self.total} {self.iteration}")

        def load_checkpoint(self, checkpoint_dir):
            with open(os.path.join(checkpoint_dir, "total")) as f:
                total, iteration = f.read().split()
            self.total = float(total)
            self.restored_from = int(iteration)

    return CountingTrainable


def test_class_trainable_steps_checkpoints_and_restores(ray, tune, run_config, tmp_path):
    trainable = make_counter_trainable(tune)
    grid = tune.Tuner(
        trainable,
        param_space={"inc": tune.grid_search([1.0, 2.0]), "marker": str(tmp_path / "died")},
        tune_config=tune.TuneConfig(metric="total", mode="max"),
        run_config=run_config(
            stop={"training_iteration": 5},
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1),
            failure_config=tune.FailureConfig(max_failures=1),
        ),
    ).fit()
    assert grid.num_errors == 0
    rows = sorted(
        (r.config["inc"], r.metrics["training_iteration"], r.metrics["total"]) for r in grid
    )
    assert rows == [(1.0, 5, 5.0), (2.0, 5, 10.0)]
    restored = [r.metrics["restored_from"] for r in grid]
    assert sorted(restored) == [0, 2]  # exactly one trial died once and resumed at iteration 2
    assert grid.get_best_result().config["inc"] == 2.0
    assert grid.get_best_result().checkpoint is not None


def make_logged_trainable(tune):
    """A Trainable that appends each call Tune makes to it to the file config["log"]; its
    metric v is the trial's config["i"]."""

    class LoggedTrainable(tune.Trainable):
        def _log(self, *what):
            with open(self.config["log"], "a") as f:
                f.write(" ".join(str(w) for w in what) + "\n")

        def setup(self, config):
            # a deep copy of self.config, as on Ray: what setup() takes out stays there
            self._log("setup", config.pop("i"))

        def step(self):
            self._log("step", self.config["i"], self.iteration)
            return {"v": float(self.config["i"])}

        def save_checkpoint(self, checkpoint_dir):
            self._log("save", self.config["i"], self.iteration)
            return {"i": self.config["i"]}

        def load_checkpoint(self, checkpoint):
            self._log("load", checkpoint)

        def reset_config(self, new_config):
            self._log("reset", self.config["i"], "->", new_config["i"])
            return True

        def cleanup(self):
            self._log("cleanup", self.config["i"])
            if self.config.get("fail_cleanup"):
                raise RuntimeError("cleanup() failed")

    return LoggedTrainable


def fit_logged(tune, run_config, log, tune_config, run, resources=None, trainable=None, **config):
    """Two trials (config i = 0, then 1, plus `config`) of the logged Trainable, one at a time
    unless `resources` says otherwise (2 CPUs each: the cluster's); `run`: run_config's
    arguments. The ResultGrid."""
    return tune.Tuner(
        tune.with_resources(trainable or make_logged_trainable(tune), resources or {"cpu": 2}),
        param_space={"i": tune.grid_search([0, 1]), "log": str(log), **config},
        tune_config=tune_config,
        run_config=run_config(**run),
    ).fit()


def test_class_trainable_reused_is_reset_and_cleaned_up_once(ray, tune, run_config, tmp_path):
    """reuse_actors=True: the second trial resets the first one's instance (reset_config with
    its config, no second setup); a checkpoint at the end of each; cleanup once, when the
    actor goes at the end of fit()."""
    log = tmp_path / "calls.log"
    grid = fit_logged(
        tune,
        run_config,
        log,
        tune.TuneConfig(reuse_actors=True),
        run={
            "name": "logged",
            "stop": {"training_iteration": 2},
            "checkpoint_config": tune.CheckpointConfig(checkpoint_at_end=True),
        },
    )
    assert grid.num_errors == 0
    assert sorted(r.config["i"] for r in grid) == [0, 1]
    # self.config is already the new trial's when reset_config is called (it reads 1 -> 1),
    # and the new trial counts its iterations from 0
    assert log.read_text().splitlines() == [
        "setup 0",
        "step 0 0",
        "step 0 1",
        "save 0 2",
        "reset 1 -> 1",
        "step 1 0",
        "step 1 1",
        "save 1 2",
        "cleanup 1",
    ]


def test_class_trainable_cleanup_runs_for_a_trial_a_scheduler_stopped(
    ray, tune, schedulers, run_config, tmp_path
):
    """Without reuse each trial's actor goes when the trial ends: cleanup() runs for the trial
    ASHA stopped at its first rung as for the one that ran to max_t, after the checkpoint a
    Tuner takes of a class Trainable's trial when it ends (checkpoint_at_end unset: on)."""
    log = tmp_path / "calls.log"
    asha = schedulers.ASHAScheduler(max_t=3, grace_period=1, reduction_factor=2)
    grid = fit_logged(
        tune,
        run_config,
        log,
        tune.TuneConfig(metric="v", mode="min", scheduler=asha),
        run={"name": "asha_logged"},
    )
    assert grid.num_errors == 0
    iterations = {r.config["i"]: r.metrics["training_iteration"] for r in grid}
    assert iterations == {0: 3, 1: 1}  # trial 1 (worse) stopped at the rung t=1
    lines = log.read_text().splitlines()
    calls = {i: [line for line in lines if line.split()[1] == str(i)] for i in (0, 1)}
    assert calls == {
        0: ["setup 0", "step 0 0", "step 0 1", "step 0 2", "save 0 3", "cleanup 0"],
        1: ["setup 1", "step 1 0", "save 1 1", "cleanup 1"],
    }
    assert all(r.checkpoint is not None for r in grid)


def test_reuse_without_reset_config_errors_the_trial_that_would_reuse(
    ray, tune, run_config, tmp_path
):
    """reuse_actors=True with a Trainable whose reset_config() is Ray's default (False): the
    trial handed the previous trial's actor errors, with a message naming reset_config."""
    log = tmp_path / "calls.log"
    trainable = make_logged_trainable(tune)
    del trainable.reset_config  # back to Trainable.reset_config
    grid = fit_logged(
        tune,
        run_config,
        log,
        tune.TuneConfig(reuse_actors=True),
        trainable=trainable,
        run={"name": "no_reset", "stop": {"training_iteration": 1}},
    )
    # which config Ray's Result shows for the failed trial varies (its last result is the
    # actor's previous trial's): the trial is known by its folder
    failed = [r for r in grid if r.error is not None]
    assert len(failed) == 1 and "_00001_1_i=1_" in os.path.basename(failed[0].path)
    assert "reset_config() to be implemented and return True" in str(failed[0].error)
    # the instance is not set up again for the failed trial; its cleanup() runs once, with the
    # config it was handed
    assert log.read_text().splitlines() == ["setup 0", "step 0 0", "save 0 1", "cleanup 1"]


def test_an_actor_not_reusable_for_the_next_trial_is_cleaned_up_when_it_goes(
    ray, tune, run_config, tmp_path
):
    """reuse_actors=True, but the next trial asks for other resources: the first trial's actor
    goes, running its cleanup() (which raises here: the trials' outcomes do not change), and
    the next trial gets its own actor (setup, no reset_config), cleaned up at the end."""
    log = tmp_path / "calls.log"
    grid = fit_logged(
        tune,
        run_config,
        log,
        tune.TuneConfig(reuse_actors=True),
        resources=lambda config: {"cpu": 2 - config["i"]},
        fail_cleanup=True,
        run={
            "name": "other_resources",
            "stop": {"training_iteration": 1},
            "checkpoint_config": tune.CheckpointConfig(checkpoint_at_end=False),
        },
    )
    assert grid.num_errors == 0
    assert sorted(r.config["i"] for r in grid) == [0, 1]
    assert log.read_text().splitlines() == [
        "setup 0",
        "step 0 0",
        "cleanup 0",
        "setup 1",
        "step 1 0",
        "cleanup 1",
    ]


class _Stepping:
    """A class Trainable's body with no save_checkpoint() (mixed into tune.Trainable)."""

    def step(self):
        return {"v": 1.0}


def test_a_tuner_checkpoints_a_class_trainable_at_its_end_unless_told_not_to(
    ray, tune, run_config, storage
):
    """CheckpointConfig(checkpoint_at_end) unset means on for a class Trainable in a Tuner:
    one without save_checkpoint() fails its trial (fit() returns, the error is the
    NotImplementedError); checkpoint_at_end=False lets it finish, and so does tune.run."""
    trainable = type("NoSave", (_Stepping, tune.Trainable), {})
    stop = {"training_iteration": 1}
    grid = tune.Tuner(trainable, run_config=run_config("at_end", stop=stop)).fit()
    assert grid.num_errors == 1
    assert isinstance(grid[0].error, NotImplementedError)
    grid = tune.Tuner(
        trainable,
        run_config=run_config(
            "not_at_end",
            stop=stop,
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
        ),
    ).fit()
    assert grid.num_errors == 0 and grid[0].metrics["v"] == 1.0 and grid[0].checkpoint is None
    analysis = tune.run(trainable, stop=stop, storage_path=storage, name="run", verbose=0)
    assert [t.status for t in analysis.trials] == ["TERMINATED"]
