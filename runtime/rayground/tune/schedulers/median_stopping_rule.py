"""`MedianStoppingRule` (Vizier's): stop a trial whose best value so far is worse than the
median of the other trials' running means up to the same time. Ray 2.60's decisions, including
pausing a trial (to let waiting ones run) while there are too few others to compare with."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from .trial_scheduler import FIFOScheduler, TrialScheduler, fmt


class MedianStoppingRule(FIFOScheduler):
    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        grace_period: float = 60.0,
        min_samples_required: int = 3,
        min_time_slice: int = 0,
        hard_stop: bool = True,
    ) -> None:
        super().__init__(metric, mode)
        self._stopped: set[str] = set()
        self._grace_period = grace_period
        self._min_samples_required = min_samples_required
        self._min_time_slice = min_time_slice
        self._time_attr = time_attr
        self._hard_stop = hard_stop
        self._last_pause: dict[str, float] = defaultdict(lambda: float("-inf"))
        self._results: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._require_metric()

    def _better(self, a: float, b: float) -> float:
        return max(a, b) if self._mode == "max" else min(a, b)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        if self._time_attr not in result or self._metric not in result:
            return TrialScheduler.CONTINUE
        if trial.trial_id in self._stopped:
            return TrialScheduler.CONTINUE
        time = result[self._time_attr]
        self._results[trial.trial_id].append(result)
        if time < self._grace_period:
            return TrialScheduler.CONTINUE
        others = [
            tid
            for tid, rows in self._results.items()
            if rows[-1][self._time_attr] >= time and tid != trial.trial_id
        ]
        means = [m for m in (self._running_mean(tid, time) for tid in others) if np.isfinite(m)]
        if len(means) < self._min_samples_required:
            waiting = [
                t for t in tune_controller.get_live_trials() if t.status in ("PENDING", "PAUSED")
            ]
            if time - self._last_pause[trial.trial_id] > self._min_time_slice and waiting:
                self._last_pause[trial.trial_id] = time
                return TrialScheduler.PAUSE
            return TrialScheduler.CONTINUE
        median = float(np.median(means))
        best = self._best_result(trial.trial_id)
        if self._better(median, best) != best:
            self._stopped.add(trial.trial_id)
            self._stop_reasons[trial.trial_id] = (
                f"stopped by the median stopping rule at {self._time_attr} {fmt(time)}: best "
                f"{self._metric} {fmt(best)} was worse than the median {fmt(median)} of "
                f"{len(means)} other trials"
            )
            return TrialScheduler.STOP if self._hard_stop else TrialScheduler.PAUSE
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        if result:
            self._results[trial.trial_id].append(result)

    def _running_mean(self, trial_id: str, time: float) -> float:
        scoped = [
            r for r in self._results[trial_id] if self._grace_period <= r[self._time_attr] <= time
        ]
        if not scoped:
            return float("nan")
        return float(np.mean([r[self._metric] for r in scoped]))

    def _best_result(self, trial_id: str) -> float:
        values = [r[self._metric] for r in self._results[trial_id]]
        return max(values) if self._mode == "max" else min(values)

    def debug_string(self) -> str:
        return f"Using MedianStoppingRule: num_stopped={len(self._stopped)}."
