"""The legacy entry point `tune.run(...)` and what it returns, `ExperimentAnalysis`.

`ExperimentAnalysis` has `best_config`, `best_result`, `get_best_trial`, `get_best_config`,
`results_df` and `dataframe`, but (as on Ray) no `get_best_result`: that is `ResultGrid`'s, and
asking for it says which form to use instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .config import CheckpointConfig, FailureConfig, RunConfig, TuneConfig, check_mode
from .result import best_trial, result_of, results_dataframe
from .trial import Trial
from .tuner import Tuner


class ExperimentAnalysis:
    def __init__(
        self,
        trials: list[Trial],
        experiment_path: str,
        default_metric: str | None,
        default_mode: str | None,
    ) -> None:
        self.trials = trials
        self.experiment_path = experiment_path
        self.default_metric = default_metric
        self.default_mode = default_mode

    def _metric_mode(self, metric: str | None, mode: str | None, what: str) -> tuple[str, str]:
        metric = metric or self.default_metric
        mode = mode or self.default_mode
        if not metric or not mode:
            raise ValueError(
                f"To fetch the `{what}`, pass a `metric` and `mode` parameter to `tune.run()`. "
                f"Alternatively, use the `get_{what}(metric, mode)` method to set the metric "
                "and mode explicitly."
            )
        check_mode(mode, f"ExperimentAnalysis.get_{what}")
        return metric, mode

    def get_best_trial(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> Trial | None:
        metric, mode = self._metric_mode(metric, mode, "best_trial")
        return best_trial(self.trials, metric, mode, scope, filter_nan_and_inf)

    def get_best_config(
        self, metric: str | None = None, mode: str | None = None, scope: str = "last"
    ) -> dict[str, Any] | None:
        trial = self.get_best_trial(metric, mode, scope)
        return trial.config if trial else None

    def get_best_checkpoint(
        self, trial: Trial, metric: str | None = None, mode: str | None = None
    ) -> Any:
        metric, mode = self._metric_mode(metric, mode, "best_checkpoint")
        scored = [(cp, r[metric]) for cp, r in trial.checkpoints if metric in r]
        if not scored:
            return None
        from .checkpoint import Checkpoint

        pick = max if mode == "max" else min
        return Checkpoint(pick(scored, key=lambda item: item[1])[0])

    def get_last_checkpoint(
        self, trial: Trial | None = None, metric: str = "training_iteration", mode: str = "max"
    ) -> Any:
        """The latest checkpoint of `trial` (default: the best trial by `metric`/`mode`)."""
        trial = trial or self.get_best_trial(metric, mode)
        if trial is None:
            return None
        return self.get_best_checkpoint(trial, "training_iteration", "max")

    @property
    def best_trial(self) -> Trial | None:
        return self.get_best_trial()

    @property
    def best_config(self) -> dict[str, Any] | None:
        return self.get_best_config()

    @property
    def best_result(self) -> dict[str, Any]:
        trial = self.get_best_trial()
        return trial.last_result if trial else {}

    @property
    def best_checkpoint(self) -> Any:
        trial = self.get_best_trial()
        return trial.checkpoint if trial else None

    @property
    def best_logdir(self) -> str | None:
        trial = self.get_best_trial()
        return trial.local_path if trial else None

    @property
    def best_dataframe(self) -> Any:
        trial = self.get_best_trial()
        return result_of(trial).metrics_dataframe if trial else None

    @property
    def best_result_df(self) -> Any:
        _metric, _mode = self._metric_mode(None, None, "best_result_df")
        frame = results_dataframe([t for t in [self.get_best_trial()] if t])
        return frame.set_index("trial_id") if len(frame) else frame

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        return {t.trial_id: t.last_result for t in self.trials}

    @property
    def results_df(self) -> Any:
        frame = results_dataframe(self.trials)
        return frame.set_index("trial_id") if len(frame) else frame

    def dataframe(self, metric: str | None = None, mode: str | None = None) -> Any:
        if mode is not None:
            check_mode(mode, "ExperimentAnalysis.dataframe")
        return results_dataframe(self.trials, metric, mode)

    @property
    def trial_dataframes(self) -> dict[str, Any]:
        return {t.local_path: result_of(t).metrics_dataframe for t in self.trials}

    def get_all_configs(self, prefix: bool = False) -> dict[str, dict[str, Any]]:
        return {t.local_path: t.config for t in self.trials}

    def __getattr__(self, name: str) -> Any:
        if name == "get_best_result":
            raise AttributeError(
                "'ExperimentAnalysis' object has no attribute 'get_best_result'. tune.run() "
                "returns an ExperimentAnalysis: use analysis.get_best_trial(metric, mode) (its "
                ".config and .last_result), analysis.best_config or analysis.best_result. "
                "get_best_result() belongs to the ResultGrid that tune.Tuner(...).fit() "
                "returns: results.get_best_result() gives a Result with .config and .metrics."
            )
        raise AttributeError(f"'ExperimentAnalysis' object has no attribute {name!r}")


def run(
    run_or_experiment: Any,
    *,
    name: str | None = None,
    metric: str | None = None,
    mode: str | None = None,
    stop: Any = None,
    time_budget_s: float | None = None,
    config: dict[str, Any] | None = None,
    resources_per_trial: Any = None,
    num_samples: int = 1,
    storage_path: str | None = None,
    search_alg: Any = None,
    scheduler: Any = None,
    checkpoint_config: CheckpointConfig | None = None,
    verbose: int | None = None,
    progress_reporter: Any = None,
    log_to_file: Any = False,
    trial_name_creator: Callable[[Any], str] | None = None,
    trial_dirname_creator: Callable[[Any], str] | None = None,
    max_failures: int = 0,
    fail_fast: bool = False,
    restore: str | None = None,
    resume: Any = None,
    reuse_actors: bool | None = None,
    raise_on_failed_trial: bool = True,
    callbacks: list[Any] | None = None,
    max_concurrent_trials: int | None = None,
    **unsupported: Any,
) -> ExperimentAnalysis:
    """Run an experiment (Ray's legacy API); prefer `tune.Tuner(...).fit()`."""
    if unsupported:
        raise TypeError(
            f"tune.run() got arguments rayground.tune does not support: "
            f"{', '.join(sorted(unsupported))}."
        )
    check_mode(mode, "`tune.run(...)`")
    tune_config = TuneConfig(
        metric=metric,
        mode=mode,
        num_samples=num_samples,
        search_alg=search_alg,
        scheduler=scheduler,
        max_concurrent_trials=max_concurrent_trials,
        time_budget_s=time_budget_s,
        reuse_actors=reuse_actors,
        trial_name_creator=trial_name_creator,
        trial_dirname_creator=trial_dirname_creator,
    )
    run_config = RunConfig(
        name=name,
        storage_path=storage_path,
        stop=stop,
        callbacks=callbacks,
        # Ray's tune.run() leaves checkpoint_at_end unset (off); its Tuner would turn it on
        # for a class Trainable
        checkpoint_config=dataclasses.replace(
            checkpoint_config or CheckpointConfig(),
            checkpoint_at_end=bool((checkpoint_config or CheckpointConfig()).checkpoint_at_end),
        ),
        failure_config=FailureConfig(max_failures=max_failures, fail_fast=fail_fast),
        verbose=verbose,
    )
    tuner = Tuner(
        run_or_experiment,
        param_space=config or {},
        tune_config=tune_config,
        run_config=run_config,
        _resources=resources_per_trial,
    )
    grid = tuner.fit()
    trials = grid._trials
    failed = [t for t in trials if t.status == Trial.ERROR]
    if failed and raise_on_failed_trial:
        from .controller import TuneError

        raise TuneError("Trials did not complete", failed)
    return ExperimentAnalysis(trials, grid.experiment_path, metric, mode)
