"""`HyperBandForBOHB`: HyperBand as BOHB runs it (Ray 2.60's `hb_bohb.py`, decision for decision).

Two changes to `HyperBandScheduler`: each band fills its largest bracket first (s = s_max
down to 0), and a trial that reaches its milestone is paused even while its bracket is not
yet full, so the searcher can add trials in between; when nothing runs any more, paused
brackets are halved with what they have. The searcher hears of every pause and resume
(`Searcher.on_pause` / `on_unpause`), so it must be a `Searcher` (TuneBOHB in Ray, or any
other), not the default random/grid search.
"""

from __future__ import annotations

from typing import Any

from .hyperband import HyperBandScheduler, _Bracket
from .trial_scheduler import TrialScheduler


def _searcher(tune_controller: Any) -> Any:
    searcher = getattr(tune_controller.search_alg, "searcher", None)
    if searcher is None:
        raise ValueError(
            "HyperBandForBOHB tells its search algorithm when it pauses and resumes trials, "
            "so it needs a Searcher as TuneConfig(search_alg=...) (TuneBOHB, OptunaSearch, or "
            "your own tune.search.Searcher); with the default random/grid search use "
            "HyperBandScheduler instead."
        )
    return searcher


class HyperBandForBOHB(HyperBandScheduler):
    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        _searcher(tune_controller)
        super().on_trial_add(tune_controller, trial)

    def _next_bracket_s(self, band: list[_Bracket | None]) -> int:
        """The largest bracket first: s = s_max, s_max - 1, ... 0."""
        return self._s_max_1 - len(band) - 1

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        """CONTINUE below the milestone; at it, PAUSE unless the bracket is full and every
        other trial in it is paused: then the bracket is halved."""
        if self._time_attr not in result or self._metric not in result:
            return TrialScheduler.CONTINUE
        result["hyperband_info"] = {}
        bracket, _ = self._trial_info[trial]
        bracket.update_trial_stats(trial, result)
        if bracket.continue_trial(trial):
            return TrialScheduler.CONTINUE
        result["hyperband_info"]["budget"] = bracket._cumul_r
        others = [t.status for t in bracket._live_trials if t is not trial]
        if not bracket.filled() or any(status != "PAUSED" for status in others):
            _searcher(tune_controller).on_pause(trial.trial_id)
            return TrialScheduler.PAUSE
        action = self._process_bracket(tune_controller, bracket, trial)
        if action == TrialScheduler.PAUSE:
            _searcher(tune_controller).on_pause(trial.trial_id)
        return action

    def _unpause_trial(self, tune_controller: Any, trial: Any) -> None:
        _searcher(tune_controller).on_unpause(trial.trial_id)

    def choose_trial_to_run(self, tune_controller: Any, allow_recurse: bool = True) -> Any:
        """Band by band, bracket by bracket, the first PENDING or unpaused trial; when no
        trial runs, halve the brackets that hold paused trials and look again."""
        found = self._runnable()
        if found is not None:
            return found
        if any(t.status == "RUNNING" for t in tune_controller.get_trials()):
            return None
        for band in self._hyperbands:
            for bracket in band:
                if bracket and any(t.status == "PAUSED" for t in bracket.current_trials()):
                    self._process_bracket(tune_controller, bracket)
                    if allow_recurse and _has_runnable(bracket):
                        return self.choose_trial_to_run(tune_controller, allow_recurse=False)
        return None

    def _runnable(self) -> Any:
        for band in self._hyperbands:
            for bracket in band:
                if bracket is None:
                    continue
                for trial in bracket.current_trials():
                    if _runnable(bracket, trial):
                        return trial
        return None


def _runnable(bracket: _Bracket, trial: Any) -> bool:
    return (
        trial.status == "PAUSED" and trial in bracket.trials_to_unpause
    ) or trial.status == "PENDING"


def _has_runnable(bracket: _Bracket) -> bool:
    return any(_runnable(bracket, t) for t in bracket.current_trials())
