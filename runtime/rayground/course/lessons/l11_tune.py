"""Lesson 11 (Tune): a grid search run by Tune, early stopping with ASHA, and a trainable that
resumes from its checkpoint. Each check runs the learner's code with a trainable of its own and
looks in the cluster's records for the trials' actor calls, so a value computed in the notebook
(or hard-coded) does not pass."""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from typing import Any

from ..exercise import Exercise, Grader
from ..observe import api


def _tune() -> Any:
    return importlib.import_module(api().__name__ + ".tune")


def shifted_parabola(config: dict[str, Any]) -> None:
    """The checker's trainable: its best x is 4 (the notebook's has its best at 3)."""
    tune = _tune()
    for step in range(1, 4):
        tune.report({"loss": (config["x"] - 4) ** 2 + 1.0 / step})


def noisy_decay(config: dict[str, Any]) -> None:
    """The checker's ASHA trainable: a loss curve that falls faster for a larger rate."""
    tune = _tune()
    for step in range(1, 17):
        tune.report({"loss": 1.0 / (1.0 + config["rate"] * step)})


def _trial_steps(g: Grader) -> int:
    return len(g.record.actor_calls("next"))


def _grade_grid(best_x: Any, g: Grader) -> None:
    value = g.run(best_x, shifted_parabola)
    g.expect(
        value == 4,
        "best_x(trainable) found x=4, the best x of the checker's own trainable",
        f"best_x(trainable) returned {value!r}; for the trainable it was given (the checker's, "
        "whose loss is lowest at x=4) it should return 4. Run the search on the trainable "
        "passed in, and read the best config from results.get_best_result()",
    )
    g.expect_known(
        lambda: len(g.record.actors_created()) >= 1 and _trial_steps(g) >= 15,
        f"Tune ran the 5 trials on the cluster ({_trial_steps(g)} results came from trial actors)",
        f"the cluster saw {_trial_steps(g)} trial results; 5 trials x 3 reports should give 15. "
        "Let tune.Tuner(...).fit() run the trials instead of computing the losses yourself",
    )


def _grade_asha(run_asha: Any, g: Grader) -> None:
    results = g.run(run_asha, noisy_decay)
    g.expect(
        hasattr(results, "get_best_result") and hasattr(results, "num_errors"),
        "run_asha returned the ResultGrid from fit()",
        f"run_asha returned a {type(results).__name__}; return what tuner.fit() returns",
    )
    iters = [r.metrics.get("training_iteration", 0) for r in results]
    g.expect(
        len(iters) == 8,
        "8 trials ran",
        f"{len(iters)} trials ran; ask for 8 with TuneConfig(num_samples=8)",
    )
    stopped = [i for i in iters if i < 16]
    g.expect(
        bool(stopped),
        f"ASHA stopped {len(stopped)} of the 8 trials early (at iterations {sorted(stopped)})",
        "every trial ran all 16 iterations: nothing stopped early. Pass "
        "scheduler=ASHAScheduler(max_t=16, grace_period=2, reduction_factor=2) to TuneConfig",
    )
    g.expect(
        max(iters) == 16,
        "the best trials ran to max_t=16",
        f"no trial reached 16 iterations (longest: {max(iters)}); use max_t=16",
    )
    g.expect_known(
        lambda: _trial_steps(g) >= sum(iters),
        f"all {sum(iters)} results came from trial actors on the cluster",
        f"the cluster saw {_trial_steps(g)} trial results but the ResultGrid claims "
        f"{sum(iters)}: let Tune run the trials",
    )


def _grade_checkpoint(train_counter: Any, g: Grader) -> None:
    tune = _tune()
    storage = tempfile.mkdtemp(prefix="lesson11-")
    marker = os.path.join(storage, "crashed-once")

    def crashes_once(config: dict[str, Any]) -> None:
        train_counter(config)
        if not os.path.exists(config["marker"]):
            open(config["marker"], "w").close()
            raise RuntimeError("the checker crashed this trial once, after its last epoch")

    def run() -> Any:
        return tune.Tuner(
            crashes_once,
            param_space={"epochs": 6, "step": 2, "marker": marker},
            run_config=tune.RunConfig(
                storage_path=storage,
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=1),
            ),
        ).fit()

    try:
        grid = g.run(run)
        g.expect(
            grid.num_errors == 0,
            "the trial was retried after the crash and finished",
            f"the trial failed: {grid.errors[0] if grid.errors else ''}",
        )
        result = grid[0]
        g.expect(
            result.checkpoint is not None,
            "it reported checkpoints (Tune copied them under the experiment's folder)",
            "no checkpoint was reported: pass checkpoint=tune.Checkpoint.from_directory(d) to "
            "tune.report",
        )
        rows = len(result.metrics_dataframe) if result.metrics_dataframe is not None else 0
        g.expect(
            rows == 6 and result.metrics.get("total") == 12,
            "after the crash it resumed from its checkpoint: 6 epochs in all, total 12",
            f"after the crash it reported {rows} results in all (expected 6) with total "
            f"{result.metrics.get('total')!r} (expected 12): it started over instead of "
            "resuming. Read tune.get_checkpoint() at the start and continue from its epoch",
        )
        g.expect_known(
            lambda: _trial_steps(g) >= 6,
            "the epochs ran in a trial actor on the cluster",
            "no trial results came from the cluster",
        )
    finally:
        shutil.rmtree(storage, ignore_errors=True)


EXERCISES = [
    Exercise(
        id="grid",
        title="A grid search run by Tune",
        answer="best_x",
        grade=_grade_grid,
        hints=(
            "Tune runs each value of a grid as its own trial: list the values of x in the "
            "param_space, and tell Tune which metric to minimise.",
            "tune.Tuner(trainable, param_space={'x': tune.grid_search([1, 2, 3, 4, 5])}, "
            "tune_config=tune.TuneConfig(metric='loss', mode='min')) then .fit().",
            "fit() returns a ResultGrid: its get_best_result() is the best trial's Result, "
            "and that Result's config['x'] is the best x.",
        ),
        solution="""def best_x(trainable):
    tuner = tune.Tuner(
        trainable,
        param_space={"x": tune.grid_search([1, 2, 3, 4, 5])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(storage_path=STORAGE, verbose=0),
    )
    return tuner.fit().get_best_result().config["x"]
""",
        try_next="search the trainable you are given, and read the best config from the results.",
    ),
    Exercise(
        id="asha",
        title="Stop the losers early",
        answer="run_asha",
        grade=_grade_asha,
        hints=(
            "Early stopping is a scheduler's job: ASHA compares the trials at the same epochs "
            "(its rungs) and stops those behind. Draw several rates instead of a grid.",
            "TuneConfig takes num_samples=8 and scheduler=ASHAScheduler(...).",
            "ASHAScheduler(max_t=16, grace_period=2, reduction_factor=2); metric='loss', "
            "mode='min'.",
        ),
        solution="""def run_asha(trainable):
    tuner = tune.Tuner(
        trainable,
        param_space={"rate": tune.uniform(0.1, 1.0)},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", num_samples=8,
            scheduler=ASHAScheduler(max_t=16, grace_period=2, reduction_factor=2),
        ),
        run_config=tune.RunConfig(storage_path=STORAGE, verbose=0),
    )
    return tuner.fit()
""",
        try_next="pass the ASHA scheduler in TuneConfig and return fit()'s ResultGrid.",
    ),
    Exercise(
        id="checkpoint",
        title="A trainable that resumes",
        answer="train_counter",
        grade=_grade_checkpoint,
        hints=(
            "A restarted trial (after a failure, or resumed by a scheduler) runs your function "
            "again from the top: it must find where it was in the last checkpoint it reported.",
            "Save {'epoch': e, 'total': t} to a file in a temporary directory and report it "
            "with checkpoint=tune.Checkpoint.from_directory(d).",
            "At the start, tune.get_checkpoint() is None or the last checkpoint: read epoch and "
            "total from it and continue with the next epoch.",
        ),
        solution="""def train_counter(config):
    epoch, total = 0, 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            with open(os.path.join(d, "state.json")) as f:
                state = json.load(f)
        epoch, total = state["epoch"], state["total"]
    while epoch < config["epochs"]:
        epoch += 1
        total += config["step"]
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"epoch": epoch, "total": total}, f)
            tune.report({"total": total, "epoch": epoch},
                        checkpoint=tune.Checkpoint.from_directory(d))
""",
        try_next="read tune.get_checkpoint() first and continue from the epoch it saved.",
    ),
]
