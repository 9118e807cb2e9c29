"""Stop criteria (`RunConfig(stop=...)`): a dict of thresholds, a function, or a `Stopper`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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
