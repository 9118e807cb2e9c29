"""What `Tuner.fit()` returns: a `ResultGrid` of `Result`s, one per trial (as Ray's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import storage
from .checkpoint import Checkpoint
from .config import check_mode
from .trial import Trial


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(
            "Dataframes of Tune results need pandas: pip install pandas (or install "
            "rayground's `tune` extra)."
        ) from exc
    return pandas


class Result:
    """One trial's outcome: final `metrics` (with `config`), latest `checkpoint`, `error`, its
    folder (`path`); `metrics_dataframe` (every report) is read from the folder when first
    asked for, so a ResultGrid of many trials is cheap to build."""

    def __init__(
        self,
        metrics: dict[str, Any] | None,
        checkpoint: Checkpoint | None,
        error: BaseException | None,
        path: str,
        metrics_dataframe: Any = None,
        best_checkpoints: list[tuple[Checkpoint, dict[str, Any]]] | None = None,
    ) -> None:
        self.metrics = metrics
        self.checkpoint = checkpoint
        self.error = error
        self.path = path
        self._frame = metrics_dataframe
        self.best_checkpoints = list(best_checkpoints or [])

    @property
    def config(self) -> dict[str, Any] | None:
        return (self.metrics or {}).get("config")

    @property
    def metrics_dataframe(self) -> Any:
        if self._frame is None:
            rows = storage.read_results(self.path)
            self._frame = _pandas().DataFrame(rows) if rows else None
        return self._frame

    @property
    def filesystem(self) -> Any:
        return None

    def get_best_checkpoint(self, metric: str, mode: str) -> Checkpoint:
        """The kept checkpoint whose reported `metric` is best (as Ray: RuntimeError when
        there is none, or none reported with that metric)."""
        if not self.best_checkpoints:
            raise RuntimeError("No checkpoint exists in the trial directory!")
        if mode not in ("max", "min"):
            raise ValueError(f'Unsupported mode: {mode}. Please choose from ["min", "max"]!')
        valid = [(cp, r) for cp, r in self.best_checkpoints if _lookup(metric, r) is not None]
        if not valid:
            raise RuntimeError(
                f"Invalid metric name {metric}! You may choose from the following metrics: "
                f"{(self.metrics or {}).keys()}."
            )
        pick = max if mode == "max" else min
        return pick(valid, key=lambda item: _lookup(metric, item[1]))[0]

    def __repr__(self) -> str:
        hidden = {
            "config",
            "timestamp",
            "date",
            "pid",
            "hostname",
            "node_ip",
            "trial_id",
            "checkpoint_dir_name",
            "iterations_since_restore",
            "experiment_tag",
            "done",
            "training_iteration",
        }
        shown = {
            k: v
            for k, v in (self.metrics or {}).items()
            if k not in hidden and not k.startswith("time_")
        }
        return (
            f"Result(metrics={shown!r}, path={self.path!r}, "
            f"checkpoint={self.checkpoint!r}, error={self.error!r})"
        )


def _lookup(metric: str, result: dict[str, Any]) -> Any:
    """`result[metric]`, or a nested value by its "a/b" path (Ray's unflattened lookup)."""
    if metric in result:
        return result[metric]
    node: Any = result
    for key in metric.split("/"):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def trial_error(trial: Trial) -> BaseException | None:
    if trial.status != Trial.ERROR:
        return None
    error = getattr(trial, "error", None)
    if isinstance(error, BaseException):
        return error
    from .controller import TuneError

    return TuneError(trial.error_msg or "the trial failed")


def result_of(trial: Trial) -> Result:
    metrics = dict(trial.last_result) if trial.last_result else {"config": trial.config}
    metrics.setdefault("config", trial.config)
    return Result(
        metrics=metrics,
        checkpoint=trial.checkpoint,
        error=trial_error(trial),
        path=trial.local_path,
        best_checkpoints=[(Checkpoint(p), r) for p, r in trial.checkpoints],
    )


class ResultGrid:
    def __init__(
        self, trials: list[Trial], experiment_path: str, metric: str | None, mode: str | None
    ) -> None:
        self._trials = trials
        self._results = [result_of(t) for t in trials]
        self.experiment_path = experiment_path
        self._metric = metric
        self._mode = mode

    @property
    def filesystem(self) -> Any:
        return None

    def get_best_result(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> Result:
        if len(self._results) == 1 and metric is None and mode is None:
            return self._results[0]
        metric = metric or self._metric
        mode = mode or self._mode
        if not metric or not mode:
            raise ValueError(
                "No metric is provided. Either pass in a `metric` arg to `get_best_result` or "
                "specify a metric in the `TuneConfig` of your `Tuner`."
                if not metric
                else "No mode is provided. Either pass in a `mode` arg to `get_best_result` or "
                "specify a mode in the `TuneConfig` of your `Tuner`."
            )
        check_mode(mode, "get_best_result")
        best = best_trial(self._trials, metric, mode, scope, filter_nan_and_inf)
        if best is None:
            raise RuntimeError(
                f"No best trial found for the given metric: {metric}. This means that no trial "
                "has reported this metric, or all values reported for this metric are NaN. To "
                "not ignore NaN values, you can set the `filter_nan_and_inf` arg to False."
            )
        return self._results[self._trials.index(best)]

    def get_dataframe(
        self, filter_metric: str | None = None, filter_mode: str | None = None
    ) -> Any:
        return results_dataframe(self._trials, filter_metric, filter_mode)

    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, index: int) -> Result:
        return self._results[index]

    def __iter__(self) -> Iterator[Result]:
        return iter(self._results)

    @property
    def errors(self) -> list[BaseException]:
        return [r.error for r in self._results if r.error is not None]

    @property
    def num_errors(self) -> int:
        return sum(1 for t in self._trials if t.status == Trial.ERROR)

    @property
    def num_terminated(self) -> int:
        return sum(1 for t in self._trials if t.status == Trial.TERMINATED)

    def __repr__(self) -> str:
        return "ResultGrid<[\n" + ",\n".join(f"  {r!r}" for r in self._results) + "\n]>"


def best_trial(
    trials: list[Trial],
    metric: str,
    mode: str,
    scope: str = "last",
    filter_nan_and_inf: bool = True,
) -> Trial | None:
    import math

    if scope not in ("all", "last", "avg", "last-5-avg", "last-10-avg"):
        raise ValueError(
            f"ExperimentAnalysis: attempting to get best trial for metric {metric} for scope "
            f"{scope} not "
            'in ["all", "last", "avg", "last-5-avg", "last-10-avg"]. If you didn\'t '
            "pass a `metric` parameter to `tune.run()`, you have to pass one when fetching "
            "the best trial."
        )
    best, best_value = None, None
    for trial in trials:
        value = trial.best_metric(metric, mode, scope)
        if value is None:
            continue
        if filter_nan_and_inf and (math.isnan(value) or math.isinf(value)):
            continue
        if best_value is None or (value > best_value if mode == "max" else value < best_value):
            best, best_value = trial, value
    return best


def results_dataframe(
    trials: list[Trial], metric: str | None = None, mode: str | None = None
) -> Any:
    pd = _pandas()
    rows = []
    for trial in trials:
        if metric and mode:
            history = storage.read_results(trial.local_path)
            history = [r for r in history if metric in r]
            if not history:
                continue
            pick = max if mode == "max" else min
            row = dict(pick(history, key=lambda r: r[metric]))
        else:
            row = dict(trial.last_result) if trial.last_result else {}
        config = row.pop("config", trial.config) or {}
        for key, value in _flatten(config):
            row[f"config/{key}"] = value
        row["logdir"] = trial.local_path
        row.setdefault("trial_id", trial.trial_id)
        rows.append(row)
    return pd.DataFrame(rows)


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(_flatten(value, name + "/"))
        else:
            out.append((name, value))
    return out
