"""`Repeater`: run each suggestion of a `Searcher` `repeat` times (e.g. with different seeds)
and tell the searcher the mean of the repeats' scores, as `ray.tune.search.Repeater`.

Each repeat's config carries its index under `TRIAL_INDEX` ("__trial_index__") unless
`set_index=False`. `num_samples` counts every trial, repeats included: num_samples=15 with
repeat=5 gives three suggestions; a group left incomplete (num_samples % repeat) never reports
to the searcher.
"""

from __future__ import annotations

import copy
import logging
import warnings
from typing import Any

import numpy as np

from .searcher import Searcher

logger = logging.getLogger(__name__)

TRIAL_INDEX = "__trial_index__"


class _TrialGroup:
    """The trials sharing one suggestion; the first one's id is the one the searcher knows."""

    def __init__(self, primary_trial_id: str, config: dict[str, Any], max_trials: int) -> None:
        self.primary_trial_id = primary_trial_id
        self.config = config
        self._scores: dict[str, float | None] = {primary_trial_id: None}
        self.max_trials = max_trials

    def add(self, trial_id: str) -> None:
        self._scores.setdefault(trial_id, None)

    def full(self) -> bool:
        return len(self._scores) == self.max_trials

    def report(self, trial_id: str, score: float) -> None:
        self._scores[trial_id] = score

    def finished_reporting(self) -> bool:
        return self.full() and None not in self._scores.values()

    def scores(self) -> list[float | None]:
        return list(self._scores.values())

    def count(self) -> int:
        return len(self._scores)


class Repeater(Searcher):
    def __init__(self, searcher: Searcher, repeat: int = 1, set_index: bool = True) -> None:
        if not isinstance(repeat, int) or repeat < 1:
            raise ValueError(f"Repeater(repeat={repeat!r}): repeat must be an integer >= 1.")
        self.searcher = searcher
        self.repeat = repeat
        self._set_index = set_index
        self._groups: list[_TrialGroup] = []
        self._trial_id_to_group: dict[str, _TrialGroup] = {}
        self._current_group: _TrialGroup | None = None
        super().__init__(metric=searcher.metric, mode=searcher.mode)

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        ok = self.searcher.set_search_properties(metric, mode, config, **spec)
        self._metric, self._mode = self.searcher.metric, self.searcher.mode
        return ok

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self._current_group is None or self._current_group.full():
            config = self.searcher.suggest(trial_id)
            if config is None or config == Searcher.FINISHED:
                return config
            assert isinstance(config, dict)
            self._current_group = _TrialGroup(trial_id, copy.deepcopy(config), self.repeat)
            self._groups.append(self._current_group)
            index_in_group = 0
        else:
            index_in_group = self._current_group.count()
            self._current_group.add(trial_id)
        config = copy.deepcopy(self._current_group.config)
        if self._set_index:
            config[TRIAL_INDEX] = index_in_group
        self._trial_id_to_group[trial_id] = self._current_group
        return config

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        # As in Ray: the searcher hears only of completed groups (their mean), not of
        # intermediate results.
        pass

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        group = self._trial_id_to_group.get(trial_id)
        if group is None:
            logger.error("Repeater: trial %s is in no group; its score is dropped.", trial_id)
            return
        metric = self.searcher.metric
        score = result[metric] if result and metric in result else np.nan
        group.report(trial_id, score)
        if group.finished_reporting():
            with warnings.catch_warnings():  # every repeat without the metric: the mean is nan
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = float(np.nanmean(np.array(group.scores(), dtype=float)))
            self.searcher.on_trial_complete(
                group.primary_trial_id, result={metric: mean}, error=error
            )
