"""`Searcher` (suggests one config per trial, learning from results) and `ConcurrencyLimiter`.

The controller talks to any search algorithm through `SearchGenerator.next_trial`, which either
expands the param space itself (`BasicVariantGenerator`) or asks a `Searcher` for the next
suggestion and fills it into the param space's constant values.
"""

from __future__ import annotations

import copy
from typing import Any

from .variant_generator import assign_value, split_spec

FINISHED = "FINISHED"


class Searcher:
    FINISHED = FINISHED

    def __init__(self, metric: str | None = None, mode: str | None = None) -> None:
        self._metric = metric
        self._mode = mode

    @property
    def metric(self) -> str | None:
        return self._metric

    @property
    def mode(self) -> str | None:
        return self._mode

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """Take the experiment's metric, mode and param space; False (Ray's default) when the
        searcher does not take them: it keeps the metric and mode it was built with."""
        return False

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        raise NotImplementedError

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        pass

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        pass

    # HyperBandForBOHB tells the searcher when it pauses and resumes a trial.
    def on_pause(self, trial_id: str) -> None:
        pass

    def on_unpause(self, trial_id: str) -> None:
        pass


class ConcurrencyLimiter(Searcher):
    """At most `max_concurrent` trials of the wrapped searcher live at a time."""

    def __init__(self, searcher: Searcher, max_concurrent: int, batch: bool = False) -> None:
        if max_concurrent < 1:
            raise ValueError(f"ConcurrencyLimiter(max_concurrent={max_concurrent}) must be >= 1.")
        super().__init__(getattr(searcher, "metric", None), getattr(searcher, "mode", None))
        self.searcher = searcher
        self.max_concurrent = max_concurrent
        self.batch = batch
        self.live_trials: set[str] = set()

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        ok = self.searcher.set_search_properties(metric, mode, config, **spec)
        self._metric, self._mode = self.searcher.metric, self.searcher.mode
        return ok

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if len(self.live_trials) >= self.max_concurrent:
            return None
        suggestion = self.searcher.suggest(trial_id)
        if isinstance(suggestion, dict):
            self.live_trials.add(trial_id)
        return suggestion

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        self.live_trials.discard(trial_id)
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def on_pause(self, trial_id: str) -> None:
        self.searcher.on_pause(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        self.searcher.on_unpause(trial_id)


class SearchGenerator:
    """Drives a `Searcher` for `num_samples` trials over a param space."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.param_space: dict[str, Any] = {}
        self.num_samples = 1
        self.created = 0
        self.finished = False

    def setup(
        self, param_space: dict[str, Any], num_samples: int, metric: str | None, mode: str | None
    ) -> None:
        self.param_space = param_space
        self.num_samples = num_samples
        took = self.searcher.set_search_properties(metric, mode, param_space)
        _, unresolved = split_spec(param_space)
        if unresolved and not took and not any(d.is_grid() for d in unresolved.values()):
            raise ValueError(
                f"You passed a `param_space` parameter to `Tuner()` with unresolved "
                f"parameters, but the search algorithm ({type(self.searcher).__name__}) was "
                "already instantiated with a search space. Make sure that `param_space` does "
                "not contain any more parameter definitions - include them in the search "
                "algorithm's search space if necessary."
            )
        if any(d.is_grid() for d in unresolved.values()):
            raise ValueError(
                f"{type(self.searcher).__name__} cannot search a tune.grid_search: use the "
                "default search (no search_alg) for grids, or replace the grid with "
                "tune.choice."
            )

    def next_trial(self, trial_id: str) -> tuple[dict[str, Any], dict[Any, Any]] | str | None:
        if self.finished or (self.num_samples != -1 and self.created >= self.num_samples):
            self.finished = True
            return FINISHED
        suggestion = self.searcher.suggest(trial_id)
        if suggestion == FINISHED:
            self.finished = True
            return FINISHED
        if suggestion is None:
            return None
        assert isinstance(suggestion, dict)
        config = copy.deepcopy(self.param_space)
        resolved: dict[Any, Any] = {}
        for key, value in _flatten(suggestion):
            assign_value_creating(config, key, value)
            resolved[key] = value
        self.created += 1
        return config, resolved

    def is_finished(self) -> bool:
        return self.finished

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None, error: bool) -> None:
        self.searcher.on_trial_complete(trial_id, result=result, error=error)


def _flatten(d: dict[str, Any], prefix: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out: list[tuple[tuple[Any, ...], Any]] = []
    for key, value in d.items():
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, (*prefix, key)))
        else:
            out.append(((*prefix, key), value))
    return out


def assign_value_creating(config: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node = config
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    assign_value(node, path[-1:], value)
