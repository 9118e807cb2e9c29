"""ASHA (`ASHAScheduler` = `AsyncHyperBandScheduler`), with Ray Tune's rung rule exactly.

Each bracket has rungs at milestones `grace_period * reduction_factor**(k + s)` below `max_t`.
The first time a trial's `time_attr` reaches a rung's milestone, its metric is compared with the
rung's cutoff, the `(1 - 1/reduction_factor)` percentile of the values recorded there so far
(NaNs ignored; sign-flipped for mode="min" so larger is better), and it is stopped if worse;
either way its value joins the rung. A trial reaching `max_t` stops (`stop_last_trials`).
This is Ray 2.60's `async_hyperband.py` decision for decision (including the random bracket
choice, a softmax over the brackets' rung counts), so the same results give the same stops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .trial_scheduler import FIFOScheduler, TrialScheduler, fmt


class AsyncHyperBandScheduler(FIFOScheduler):
    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: int = 100,
        grace_period: int = 1,
        reduction_factor: float = 4,
        brackets: int = 1,
        stop_last_trials: bool = True,
    ) -> None:
        if not max_t > 0:
            raise ValueError(f"ASHAScheduler(max_t={max_t}): max_t must be positive.")
        if not max_t >= grace_period:
            raise ValueError(
                f"ASHAScheduler: grace_period ({grace_period}) must be <= max_t ({max_t})."
            )
        if not grace_period > 0:
            raise ValueError(f"ASHAScheduler(grace_period={grace_period}) must be positive.")
        if not reduction_factor > 1:
            raise ValueError(
                f"ASHAScheduler(reduction_factor={reduction_factor}) must be greater than 1."
            )
        if not brackets > 0:
            raise ValueError(f"ASHAScheduler(brackets={brackets}) must be positive.")
        super().__init__(metric, mode)
        self._reduction_factor = reduction_factor
        self._max_t = max_t
        self._trial_info: dict[str, _Bracket] = {}
        self._brackets = [
            _Bracket(grace_period, max_t, reduction_factor, s, stop_last_trials)
            for s in range(brackets)
        ]
        self._num_stopped = 0
        self._time_attr = time_attr
        self._stop_last_trials = stop_last_trials

    @property
    def _metric_op(self) -> float | None:
        return {"max": 1.0, "min": -1.0}.get(self._mode or "")

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        ok = super().set_search_properties(metric, mode, **spec)
        if ok and self._metric is None and self._mode:
            self._metric = "_metric"
        return ok

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._require_metric()
        sizes = np.array([len(b._rungs) for b in self._brackets])
        probs = np.e ** (sizes - sizes.max())
        normalized = probs / probs.sum()
        idx = np.random.choice(len(self._brackets), p=normalized)
        self._trial_info[trial.trial_id] = self._brackets[idx]

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        if self._time_attr not in result or self._metric not in result:
            return TrialScheduler.CONTINUE
        t = result[self._time_attr]
        value = result[self._metric]
        if t >= self._max_t and self._stop_last_trials:
            self._stop_reasons[trial.trial_id] = (
                f"stopped by ASHA at max_t: {self._time_attr} reached {fmt(t)} "
                f"(max_t={fmt(self._max_t)})"
            )
            action = TrialScheduler.STOP
        else:
            bracket = self._trial_info[trial.trial_id]
            action, rung, cutoff = bracket.on_result(trial, t, self._metric_op * value)
            if action == TrialScheduler.STOP:
                assert cutoff is not None
                self._stop_reasons[trial.trial_id] = (
                    f"stopped by ASHA at rung {fmt(rung)}: {self._metric} {fmt(value)} was "
                    f"worse than the rung's cutoff {fmt(float(self._metric_op * cutoff))}"
                )
        if action == TrialScheduler.STOP:
            self._num_stopped += 1
        return action

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        if trial.trial_id not in self._trial_info:
            return
        if self._time_attr in result and self._metric in result:
            self._trial_info[trial.trial_id].on_result(
                trial, result[self._time_attr], self._metric_op * result[self._metric]
            )
        del self._trial_info[trial.trial_id]

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        self._trial_info.pop(trial.trial_id, None)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        self._trial_info.pop(trial.trial_id, None)

    def rungs(self) -> list[list[tuple[float, dict[str, float]]]]:
        """Each bracket's rungs, highest milestone first: (milestone, {trial_id: value})."""
        return [[(m, dict(r)) for m, r in b._rungs] for b in self._brackets]

    def debug_string(self) -> str:
        out = f"Using AsyncHyperBand: num_stopped={self._num_stopped}"
        return out + "\n" + "\n".join(b.debug_str() for b in self._brackets)


class _Bracket:
    """Rungs, highest milestone first, each recording {trial_id: signed metric}."""

    def __init__(
        self,
        min_t: float,
        max_t: float,
        reduction_factor: float,
        s: int,
        stop_last_trials: bool = True,
    ) -> None:
        self.rf = reduction_factor
        max_rungs = int(np.log(max_t / min_t) / np.log(self.rf) - s + 1)
        self._rungs: list[tuple[float, dict[str, float]]] = [
            (min_t * self.rf ** (k + s), {}) for k in reversed(range(max_rungs))
        ]
        self._stop_last_trials = stop_last_trials

    def cutoff(self, recorded: dict[str, float]) -> float | None:
        if not recorded:
            return None
        return float(np.nanpercentile(list(recorded.values()), (1 - 1 / self.rf) * 100))

    def on_result(
        self, trial: Any, cur_iter: float, cur_rew: float | None
    ) -> tuple[str, float | None, float | None]:
        action = TrialScheduler.CONTINUE
        for milestone, recorded in self._rungs:
            if cur_iter >= milestone and trial.trial_id in recorded and not self._stop_last_trials:
                break
            if cur_iter < milestone or trial.trial_id in recorded:
                continue
            cutoff = self.cutoff(recorded)
            if cutoff is not None and cur_rew is not None and cur_rew < cutoff:
                action = TrialScheduler.STOP
            if cur_rew is not None:
                recorded[trial.trial_id] = cur_rew
            return action, milestone, cutoff
        return action, None, None

    def debug_str(self) -> str:
        iters = " | ".join(
            f"Iter {milestone:.3f}: {self.cutoff(recorded)}" for milestone, recorded in self._rungs
        )
        return "Bracket: " + iters


ASHAScheduler = AsyncHyperBandScheduler
