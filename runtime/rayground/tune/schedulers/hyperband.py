"""`HyperBandScheduler`: Ray Tune's synchronous HyperBand, bracket for bracket.

Trials are added, in creation order, to the current bracket until it holds its `n0(s)` trials;
then the next bracket of the band (s = 0, 1, ... s_max) opens, and a full band starts a new one.
Bracket s gives each trial `r0(s) = max_t * eta**-s` units of `time_attr` first. A trial that
reaches its bracket's milestone is PAUSED (checkpointed, its resources given back) until every
live trial of the bracket is there; then the bracket halves: the best `ceil(n / eta)` trials
(by `metric`) go on to the next milestone (`r * eta`, at most max_t), the rest are stopped.
A bracket with no halvings left stops its trials at the milestone (`stop_last_trials`).
`choose_trial_to_run` picks, band by band, from the least complete bracket first.

This is Ray 2.60's `hyperband.py` decision for decision, so the same trials in the same order
are stopped at the same iterations. Pausing needs the trial to resume where it was: a
`Trainable` class saves and loads checkpoints; a function trainable reports checkpoints and
reads `tune.get_checkpoint()` (without them it starts again from its first iteration, as on
Ray).
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from .trial_scheduler import FIFOScheduler, TrialScheduler, fmt


class HyperBandScheduler(FIFOScheduler):
    _supports_buffered_results = False

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: int = 81,
        reduction_factor: float = 3,
        stop_last_trials: bool = True,
    ) -> None:
        if not max_t > 0:
            raise ValueError(f"HyperBandScheduler(max_t={max_t}): max_t must be positive.")
        if not reduction_factor > 1:
            raise ValueError(
                f"HyperBandScheduler(reduction_factor={reduction_factor}) must be greater than 1."
            )
        super().__init__(metric, mode)
        self._eta = reduction_factor
        self._s_max_1 = int(np.round(np.log(max_t) / np.log(reduction_factor))) + 1
        self._max_t_attr = max_t
        self._hyperbands: list[list[_Bracket | None]] = [[]]
        self._trial_info: dict[Any, tuple[_Bracket, int]] = {}
        self._state: dict[str, Any] = {"bracket": None, "band_idx": 0}
        self._num_stopped = 0
        self._time_attr = time_attr
        self._stop_last_trials = stop_last_trials

    def _get_n0(self, s: int) -> int:
        return int(np.ceil(self._s_max_1 / (s + 1) * self._eta**s))

    def _get_r0(self, s: int) -> int:
        return int(self._max_t_attr * self._eta ** (-s))

    @property
    def _metric_op(self) -> float:
        return 1.0 if self._mode == "max" else -1.0

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        ok = super().set_search_properties(metric, mode, **spec)
        if ok and self._metric is None and self._mode:
            self._metric = "_metric"
        return ok

    # ------------------------------------------------------------------ adding trials
    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        """Into the current bracket while it has room; else the band's next bracket; else a
        new band."""
        self._require_metric()
        cur_bracket = self._state["bracket"]
        cur_band = self._hyperbands[self._state["band_idx"]]
        if cur_bracket is None or cur_bracket.filled():
            while True:
                if self._cur_band_filled():
                    cur_band = []
                    self._hyperbands.append(cur_band)
                    self._state["band_idx"] += 1
                s = self._next_bracket_s(cur_band)
                if self._get_r0(s) == 0:  # a bracket whose first milestone would be 0
                    cur_bracket = None
                    cur_band.append(None)
                    self._state["bracket"] = None
                    continue
                cur_bracket = self._create_bracket(s)
                cur_band.append(cur_bracket)
                self._state["bracket"] = cur_bracket
                break
        self._state["bracket"].add_trial(trial)
        self._trial_info[trial] = cur_bracket, self._state["band_idx"]

    def _next_bracket_s(self, band: list[_Bracket | None]) -> int:
        """The s of the band's next bracket: 0, 1, ... (smallest first)."""
        return len(band)

    def _cur_band_filled(self) -> bool:
        return len(self._hyperbands[self._state["band_idx"]]) == self._s_max_1

    def _create_bracket(self, s: int) -> _Bracket:
        return _Bracket(
            time_attr=self._time_attr,
            max_trials=self._get_n0(s),
            init_t_attr=self._get_r0(s),
            max_t_attr=self._max_t_attr,
            eta=self._eta,
            s=s,
            stop_last_trials=self._stop_last_trials,
        )

    # ------------------------------------------------------------------ decisions
    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        """CONTINUE below the bracket's milestone; at it, PAUSE until the whole bracket is
        there, and the last one to arrive halves the bracket."""
        if self._time_attr not in result or self._metric not in result:
            return TrialScheduler.CONTINUE
        bracket, _ = self._trial_info[trial]
        bracket.update_trial_stats(trial, result)
        if bracket.continue_trial(trial):
            return TrialScheduler.CONTINUE
        return self._process_bracket(tune_controller, bracket, trial)

    def _process_bracket(self, tune_controller: Any, bracket: _Bracket, trial: Any = None) -> str:
        """Halve `bracket` once all its live trials reached the milestone: stop the bad ones,
        unpause the good ones. At that point at most the trial being processed is RUNNING;
        the others are PAUSED or finished."""
        action = TrialScheduler.PAUSE
        if not bracket.cur_iter_done():
            return action
        if bracket.finished():
            for t in bracket.current_trials():
                if t.status == "PAUSED":
                    self._stop(tune_controller, t, self._end_reason(bracket, t))
            if trial is not None:
                self._end_reason(bracket, trial)
            return TrialScheduler.STOP
        bracket.is_being_processed = True
        milestone = bracket._cumul_r
        good, bad = bracket.successive_halving(self._metric, self._metric_op)
        cutoff = bracket._live_trials[good[0]][self._metric] if good else None
        self._num_stopped += len(bad)
        for t in bad:
            reason = (
                f"stopped by HyperBand at {self._time_attr} {fmt(milestone)}: {self._metric} "
                f"{fmt(bracket._live_trials[t][self._metric])} was not among the bracket's best "
                f"{len(good)} (cutoff {fmt(cutoff)})"
            )
            if t.status not in ("PAUSED", "RUNNING"):
                raise RuntimeError(
                    f"HyperBand: trial {t} in a bracket being halved is {t.status}; expected "
                    "PAUSED or RUNNING."
                )
            if self._stop_in_bracket(tune_controller, bracket, t, reason):
                action = TrialScheduler.STOP
        for t in good:
            if bracket.continue_trial(t):
                if t.status == "PAUSED":
                    self._unpause_trial(tune_controller, t)
                    bracket.trials_to_unpause.add(t)
                elif t.status == "RUNNING":
                    action = TrialScheduler.CONTINUE
            elif bracket.finished() and bracket.stop_last_trials:
                reason = self._end_reason(bracket, t)
                if self._stop_in_bracket(tune_controller, bracket, t, reason):
                    action = TrialScheduler.STOP
        return action

    def _unpause_trial(self, tune_controller: Any, trial: Any) -> None:
        """A paused trial goes on to the next milestone (HyperBandForBOHB tells its searcher)."""

    def _stop_in_bracket(
        self, tune_controller: Any, bracket: _Bracket, trial: Any, reason: str
    ) -> bool:
        """Stop a PAUSED trial now; for the RUNNING one (whose result is being processed),
        True: the decision returned to the controller is STOP."""
        if trial.status == "PAUSED":
            self._stop(tune_controller, trial, reason)
        elif trial.status == "RUNNING":
            self._stop_reasons[trial.trial_id] = reason
            bracket.cleanup_trial(trial)
            return True
        return False

    def _end_reason(self, bracket: _Bracket, trial: Any) -> str:
        reason = (
            f"stopped by HyperBand: its bracket ended at {self._time_attr} {fmt(bracket._cumul_r)}"
        )
        self._stop_reasons[trial.trial_id] = reason
        return reason

    def _stop(self, tune_controller: Any, trial: Any, reason: str) -> None:
        self._stop_reasons[trial.trial_id] = reason
        tune_controller.stop_trial(trial, reason)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        """A trial left its bracket (finished, stopped or failed): the others may now all be
        at the milestone, so the bracket may halve."""
        if trial not in self._trial_info:
            return
        bracket, _ = self._trial_info[trial]
        bracket.cleanup_trial(trial)
        if not bracket.finished() and not bracket.is_being_processed:
            self._process_bracket(tune_controller, bracket)

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        self.on_trial_remove(tune_controller, trial)

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        self.on_trial_remove(tune_controller, trial)

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        """Band by band, the least complete bracket's next PENDING (or unpaused) trial."""
        for band in self._hyperbands:
            brackets = [b for b in band if b is not None]
            for bracket in sorted(brackets, key=lambda b: b.completion_percentage()):
                for trial in bracket.current_trials():
                    if (
                        trial.status == "PAUSED" and trial in bracket.trials_to_unpause
                    ) or trial.status == "PENDING":
                        return trial
        return None

    def debug_string(self) -> str:
        brackets = sum(len(band) for band in self._hyperbands)
        out = f"Using HyperBand: num_stopped={self._num_stopped} total_brackets={brackets}"
        for i, band in enumerate(self._hyperbands):
            out += f"\nRound #{i}:"
            for bracket in band:
                if bracket:
                    out += f"\n  {bracket}"
        return out

    def state(self) -> dict[str, int]:
        return {
            "num_brackets": sum(len(band) for band in self._hyperbands),
            "num_stopped": self._num_stopped,
        }


class _Bracket:
    """One HyperBand bracket: its live trials' last results, its current milestone
    (`_cumul_r`) and how many halvings are left (`_halves`)."""

    def __init__(
        self,
        time_attr: str,
        max_trials: int,
        init_t_attr: int,
        max_t_attr: int,
        eta: float,
        s: int,
        stop_last_trials: bool = True,
    ) -> None:
        self._live_trials: dict[Any, dict[str, Any] | None] = {}
        self._all_trials: list[Any] = []
        self._time_attr = time_attr
        self._n = self._n0 = max_trials
        self._r = self._r0 = init_t_attr
        self._max_t_attr = max_t_attr
        self._cumul_r = self._r0
        self._eta = eta
        self._halves = s
        self._total_work = self._calculate_total_work(self._n0, self._r0, s)
        self._completed_progress = 0.0
        self.stop_last_trials = stop_last_trials
        self.is_being_processed = False
        self.trials_to_unpause: set[Any] = set()

    def add_trial(self, trial: Any) -> None:
        assert not self.filled(), "Cannot add trial to filled bracket!"
        self._live_trials[trial] = None
        self._all_trials.append(trial)

    def cur_iter_done(self) -> bool:
        return all(self._get_result_time(r) >= self._cumul_r for r in self._live_trials.values())

    def finished(self) -> bool:
        if not self.stop_last_trials:
            return False
        return self._halves == 0 and self.cur_iter_done()

    def current_trials(self) -> list[Any]:
        return list(self._live_trials)

    def continue_trial(self, trial: Any) -> bool:
        result = self._live_trials[trial]
        if not self.stop_last_trials and self._halves == 0:
            return True
        return self._get_result_time(result) < self._cumul_r

    def filled(self) -> bool:
        return len(self._live_trials) == self._n

    def successive_halving(self, metric: str, metric_op: float) -> tuple[list[Any], list[Any]]:
        if self._halves == 0 and not self.stop_last_trials:
            return list(self._live_trials), []
        assert self._halves > 0
        self._halves -= 1
        self._n = int(np.ceil(self._n / self._eta))
        self._r *= self._eta
        self._r = int(min(self._r, self._max_t_attr))
        self._cumul_r = self._r
        sorted_trials = sorted(
            self._live_trials,
            key=lambda t: metric_op * self._live_trials[t][metric],  # type: ignore[index]
        )
        return sorted_trials[-self._n :], sorted_trials[: -self._n]

    def update_trial_stats(self, trial: Any, result: dict[str, Any]) -> None:
        observed = self._get_result_time(result)
        last = self._get_result_time(self._live_trials[trial])
        self._completed_progress += observed - last
        self._live_trials[trial] = result
        self.trials_to_unpause.discard(trial)

    def cleanup_trial(self, trial: Any) -> None:
        self._live_trials.pop(trial, None)

    def completion_percentage(self) -> float:
        if self.finished():
            return 1.0
        return min(self._completed_progress / self._total_work, 1.0)

    def _get_result_time(self, result: dict[str, Any] | None) -> float:
        if result is None:
            return 0
        return result[self._time_attr]

    def _calculate_total_work(self, n: float, r: float, s: int) -> int:
        work = 0
        cumulative_r = r
        for _ in range(s + 1):
            work += int(n) * int(r)
            n = int(np.ceil(n / self._eta))
            r *= self._eta
            r = int(min(r, self._max_t_attr - cumulative_r))
        return work

    def __repr__(self) -> str:
        status = (
            f"Max Size (n)={self._n}, Milestone (r)={self._cumul_r}, "
            f"completed={self.completion_percentage():.1%}"
        )
        counts = collections.Counter(t.status for t in self._all_trials)
        statuses = ", ".join(sorted(f"{k}: {v}" for k, v in counts.items()))
        return f"Bracket({status}): {{{statuses}}} "
