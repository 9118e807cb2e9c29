"""Stop criteria (`RunConfig(stop=...)`): a dict of thresholds, a function, or a `Stopper`."""

from __future__ import annotations

import collections
import datetime
import time
from collections.abc import Callable
from typing import Any

import numpy as np


class Stopper:
    """Decide per result whether a trial stops (`__call__`) and whether everything stops."""

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        raise NotImplementedError

    def stop_all(self) -> bool:
        raise NotImplementedError


class FunctionStopper(Stopper):
    def __init__(self, function: Callable[[str, dict[str, Any]], bool]) -> None:
        self._fn = function

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return bool(self._fn(trial_id, result))

    def stop_all(self) -> bool:
        return False


class MaximumIterationStopper(Stopper):
    def __init__(self, max_iter: int) -> None:
        self._max_iter = max_iter

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return bool(result.get("training_iteration", 0) >= self._max_iter)

    def stop_all(self) -> bool:
        return False


class CombinedStopper(Stopper):
    def __init__(self, *stoppers: Stopper) -> None:
        self._stoppers = stoppers

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return any(s(trial_id, result) for s in self._stoppers)

    def stop_all(self) -> bool:
        return any(s.stop_all() for s in self._stoppers)


class NoopStopper(Stopper):
    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return False


class TrialPlateauStopper(Stopper):
    """Stop a trial once the std of its last `num_results` values of `metric` is below `std`
    (after `grace_period` results; with `metric_threshold`, only once the metric is at least
    that good)."""

    def __init__(
        self,
        metric: str,
        std: float = 0.01,
        num_results: int = 4,
        grace_period: int = 4,
        metric_threshold: float | None = None,
        mode: str | None = None,
    ) -> None:
        if metric_threshold and mode not in ("min", "max"):
            raise ValueError(
                "When specifying a `metric_threshold`, the `mode` argument has to be one of "
                f"[min, max]. Got: {mode}"
            )
        self._metric = metric
        self._mode = mode
        self._std = std
        self._num_results = num_results
        self._grace_period = grace_period
        self._metric_threshold = metric_threshold
        self._iter: dict[str, int] = {}
        self._trial_results: dict[str, collections.deque[Any]] = {}

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        value = result.get(self._metric)
        values = self._trial_results.setdefault(
            trial_id, collections.deque(maxlen=self._num_results)
        )
        values.append(value)
        self._iter[trial_id] = self._iter.get(trial_id, 0) + 1
        if self._iter[trial_id] < self._grace_period or len(values) < self._num_results:
            return False
        if self._metric_threshold is not None:
            if self._mode == "min" and value > self._metric_threshold:
                return False
            if self._mode == "max" and value < self._metric_threshold:
                return False
        try:
            current_std = float(np.std(values))
        except Exception:
            current_std = float("inf")
        return current_std < self._std

    def stop_all(self) -> bool:
        return False


class ExperimentPlateauStopper(Stopper):
    """Stop everything once the best `top` values of `metric` seen so far have a std of at
    most `std`, for `patience` results in a row."""

    def __init__(
        self, metric: str, std: float = 0.001, top: int = 10, mode: str = "min", patience: int = 0
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError("The mode parameter can only be either min or max.")
        if not isinstance(top, int) or top <= 1:
            raise ValueError("Top results to consider must be a positive integer greater than one.")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError("Patience must be a strictly positive integer.")
        if not isinstance(std, float) or std <= 0:
            raise ValueError("The standard deviation must be a strictly positive float number.")
        self._mode = mode
        self._metric = metric
        self._patience = patience
        self._iterations = 0
        self._std = std
        self._top = top
        self._top_values: list[float] = []

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        self._top_values.append(result[self._metric])
        ranked = sorted(self._top_values)
        self._top_values = ranked[: self._top] if self._mode == "min" else ranked[-self._top :]
        self._iterations = self._iterations + 1 if self.has_plateaued() else 0
        return self.stop_all()

    def has_plateaued(self) -> bool:
        return len(self._top_values) == self._top and float(np.std(self._top_values)) <= self._std

    def stop_all(self) -> bool:
        return self.has_plateaued() and self._iterations >= self._patience


class TimeoutStopper(Stopper):
    """Stop everything once the experiment has run `timeout` (seconds or a timedelta); the
    clock only runs while the experiment does (a restored one gets the rest)."""

    def __init__(self, timeout: float | datetime.timedelta) -> None:
        if isinstance(timeout, datetime.timedelta):
            self._timeout_seconds = timeout.total_seconds()
        elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            self._timeout_seconds = float(timeout)
        else:
            raise ValueError(
                "`timeout` parameter has to be either a number or a `datetime.timedelta` "
                f"object. Found: {type(timeout)}"
            )
        self._budget = self._timeout_seconds
        self._last_check: float | None = None

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        now = time.time()
        if self._last_check:
            self._budget -= now - self._last_check
        self._last_check = now
        return self._budget <= 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["_last_check"] = None
        self.__dict__.update(state)


class DictStopper(Stopper):
    """`{"training_iteration": 10, "accuracy": 0.95}`: stop once any value reaches its bound."""

    def __init__(self, criteria: dict[str, Any]) -> None:
        self.criteria = dict(criteria)

    def reason(self, result: dict[str, Any]) -> str | None:
        for key, bound in self.criteria.items():
            if key not in result:
                continue
            if result[key] >= bound:
                return f"stopped by the stop criteria: {key} reached {result[key]} (>= {bound})"
        return None

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return self.reason(result) is not None

    def stop_all(self) -> bool:
        return False


def make_stopper(stop: Any) -> Stopper | None:
    if stop is None:
        return None
    if isinstance(stop, Stopper):
        return stop
    if isinstance(stop, dict):
        return DictStopper(stop)
    if callable(stop):
        return FunctionStopper(stop)
    raise TypeError(
        f"stop must be a dict like {{'training_iteration': 10}}, a function (trial_id, result) "
        f"-> bool, or a tune.Stopper; got {type(stop).__name__}."
    )
