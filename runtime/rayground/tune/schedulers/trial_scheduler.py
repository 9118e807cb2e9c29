"""The scheduler interface (Ray's `TrialScheduler`) and the default, `FIFOScheduler`.

The controller asks a scheduler two things: after each result, CONTINUE, PAUSE or STOP this
trial (`on_trial_result`); when there is room, which waiting trial to run (`choose_trial_to_run`).
Our schedulers also say *why* a trial was stopped (`stop_reason`), which the live view shows.
"""

from __future__ import annotations

from typing import Any

from ..config import check_mode


class TrialScheduler:
    CONTINUE = "CONTINUE"
    PAUSE = "PAUSE"
    STOP = "STOP"
    NOOP = "NOOP"

    _metric: str | None = None
    _mode: str | None = None
    _supports_buffered_results = True

    def __init__(self) -> None:
        self._stop_reasons: dict[str, str] = {}

    @property
    def metric(self) -> str | None:
        return self._metric

    @property
    def mode(self) -> str | None:
        return self._mode

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if self._metric and metric:
            return False
        if self._mode and mode:
            return False
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        return True

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        pass

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        pass

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        return self.CONTINUE

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        pass

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        pass

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        for trial in tune_controller.get_trials():
            if trial.status == "PENDING":
                return trial
        for trial in tune_controller.get_trials():
            if trial.status == "PAUSED":
                return trial
        return None

    def stop_reason(self, trial: Any) -> str | None:
        """Why this scheduler stopped `trial`, in words, or None."""
        return self._stop_reasons.get(trial.trial_id)

    def debug_string(self) -> str:
        return f"Using {type(self).__name__}."

    def _require_metric(self) -> None:
        check_mode(self._mode, type(self).__name__)
        if not self._metric or not self._mode:
            raise ValueError(
                f"{type(self).__name__} has been instantiated without a valid `metric` "
                f"({self._metric}) or `mode` ({self._mode}) parameter. Either pass these "
                "parameters when instantiating the scheduler, or pass them as parameters to "
                "`tune.TuneConfig()`"
            )


class FIFOScheduler(TrialScheduler):
    """Runs trials in the order they were created and never stops one early."""

    def __init__(self, metric: str | None = None, mode: str | None = None) -> None:
        super().__init__()
        check_mode(mode, "FIFOScheduler")
        self._metric = metric
        self._mode = mode


def fmt(value: Any) -> str:
    """A metric value for a sentence: 0.41, 1.2e-05, 12."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
