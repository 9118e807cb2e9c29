"""`BasicVariantGenerator`: random and grid search, Tune's default search algorithm.

`num_samples` copies of the whole grid, drawn lazily, one trial at a time, in the order
`variant_generator.generate_variants` gives (Ray's order)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .searcher import FINISHED
from .variant_generator import assign_value, generate_variants, split_spec


class BasicVariantGenerator:
    def __init__(
        self,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        max_concurrent: int = 0,
        constant_grid_search: bool = False,
        random_state: Any = None,
    ) -> None:
        self._points = list(points_to_evaluate or [])
        self.max_concurrent = max_concurrent
        self._constant_grid_search = constant_grid_search
        self._rng = (
            np.random.default_rng(random_state) if isinstance(random_state, int) else random_state
        )
        self._param_space: dict[str, Any] = {}
        self._num_samples = 1
        self._sample = 0
        self._variants: Iterator[tuple[dict[Any, Any], dict[str, Any]]] | None = None
        self._live: set[str] = set()
        self._finished = False
        self.metric: str | None = None
        self.mode: str | None = None

    def setup(
        self, param_space: dict[str, Any], num_samples: int, metric: str | None, mode: str | None
    ) -> None:
        split_spec(param_space)  # raise now on an unknown search-space type
        self._param_space = param_space
        self._num_samples = num_samples
        self.metric, self.mode = metric, mode

    def __getstate__(self) -> dict[str, Any]:
        # A generator cannot be pickled: keep the sample count and regenerate from there.
        state = dict(self.__dict__)
        state["_variants"] = None
        state["_skip"] = getattr(self, "_taken_in_sample", 0)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        skip = state.pop("_skip", 0)
        self.__dict__.update(state)
        if skip and not self._finished:
            self._variants = self._sample_variants()
            for _ in range(skip):
                next(self._variants, None)
            self._taken_in_sample = skip

    def _sample_variants(self) -> Iterator[tuple[dict[Any, Any], dict[str, Any]]]:
        space = self._param_space
        if self._points:
            point = self._points.pop(0)
            space = _with_point(space, point)
        return generate_variants(space, self._rng, self._constant_grid_search)

    def next_trial(self, trial_id: str) -> tuple[dict[str, Any], dict[Any, Any]] | str | None:
        if self._finished:
            return FINISHED
        if self.max_concurrent and len(self._live) >= self.max_concurrent:
            return None
        while True:
            if self._variants is None:
                if self._num_samples != -1 and self._sample >= self._num_samples:
                    self._finished = True
                    return FINISHED
                self._sample += 1
                self._variants = self._sample_variants()
                self._taken_in_sample = 0
            item = next(self._variants, None)
            if item is None:
                self._variants = None
                continue
            self._taken_in_sample += 1
            self._live.add(trial_id)
            resolved, config = item
            return config, resolved

    def is_finished(self) -> bool:
        return self._finished

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        pass

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None, error: bool) -> None:
        self._live.discard(trial_id)


def _with_point(space: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    import copy

    space = copy.deepcopy(space)

    def walk(values: dict[str, Any], prefix: tuple[Any, ...]) -> None:
        for key, value in values.items():
            if isinstance(value, dict):
                walk(value, (*prefix, key))
            else:
                assign_value(space, (*prefix, key), value)

    walk(point, ())
    return space
