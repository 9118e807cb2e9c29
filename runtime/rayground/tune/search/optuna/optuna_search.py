"""`OptunaSearch`: Optuna's samplers (TPE by default) suggest each trial's config, and learn
from the trials' results, as Ray Tune's wrapper does.

The search space is a Tune param space (converted to Optuna distributions, keys joined with
"/"), a dict of `optuna.distributions`, or a define-by-run function of an Optuna trial. Each
Tune trial is one Optuna trial: `suggest` asks the study, every result is reported to it as an
intermediate value at its `training_iteration`, and the trial's end tells the study its last
metric (COMPLETE), or FAIL after an error / PRUNED without the metric. The same seed, space and
order draw the same configs as Ray's OptunaSearch (both ask Optuna the same questions).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from ..sample import Categorical, Domain, Float, Integer
from ..searcher import Searcher, _flatten
from ..variant_generator import split_spec

try:
    import optuna as ot
    from optuna.samplers import BaseSampler
    from optuna.trial import TrialState as OptunaTrialState
except ImportError:  # optional: only this searcher needs it
    ot = None

_DEFAULT_METRIC = "_metric"


class _OptunaTrialSuggestCaptor:
    """Records what a define-by-run function drew through `trial.suggest_*`."""

    def __init__(self, ot_trial: Any) -> None:
        self.ot_trial = ot_trial
        self.captured_values: dict[str, Any] = {}

    def _get_wrapper(self, func: Any) -> Any:
        sig = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind_partial(*args, **kwargs)
            bound.apply_defaults()
            if "name" not in bound.arguments:
                raise ValueError("missing required argument: name")
            value = func(*args, **kwargs)
            self.captured_values[bound.arguments["name"]] = value
            return value

        return wrapper

    def __getattr__(self, name: str) -> Any:
        item = getattr(self.ot_trial, name)
        if name.startswith("suggest_") and callable(item):
            return self._get_wrapper(item)
        return item


class OptunaSearch(Searcher):
    def __init__(
        self,
        space: Any = None,
        metric: str | list[str] | None = None,
        mode: str | list[str] | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        sampler: Any = None,
        study_name: str | None = None,
        storage: Any = None,
        seed: int | None = None,
        evaluated_rewards: list[Any] | None = None,
    ) -> None:
        if ot is None:
            # Ray asserts this (an AssertionError with the same words).
            raise AssertionError("Optuna must be installed! Run `pip install optuna`.")
        super().__init__(metric=metric, mode=mode)  # type: ignore[arg-type]
        if isinstance(space, dict) and space:
            leaves = _flatten(space)
            # Tune domains (or grids) are converted; a dict of optuna distributions is used as
            # it is, its keys joined with "/".
            if any(isinstance(v, Domain) or p[-1] == "grid_search" for p, v in leaves):
                space = self.convert_search_space(space)
            else:
                space = {"/".join(str(k) for k in path): v for path, v in leaves}
        self._space = space
        self._points_to_evaluate = list(points_to_evaluate or [])
        self._evaluated_rewards = evaluated_rewards
        if evaluated_rewards is not None and len(evaluated_rewards) != len(
            self._points_to_evaluate
        ):
            raise ValueError(
                f"OptunaSearch: evaluated_rewards has {len(evaluated_rewards)} values but "
                f"points_to_evaluate has {len(self._points_to_evaluate)} points; give one "
                "reward per point."
            )
        self._study_name = study_name or "optuna"
        if sampler is not None and not isinstance(sampler, BaseSampler):
            raise TypeError(
                "You can only pass an instance of `optuna.samplers.BaseSampler` as a sampler "
                f"to `OptunaSearch`, got {type(sampler).__name__}."
            )
        self._sampler = sampler
        self._seed = seed
        self._storage = storage
        self._completed_trials: set[str] = set()
        self._ot_trials: dict[str, Any] = {}
        self._ot_study: Any = None
        if self._space:
            self._setup_study(mode)

    def _setup_study(self, mode: Any) -> None:
        if self._metric is None and self._mode:
            if isinstance(self._mode, list):
                raise ValueError(
                    "If ``mode`` is a list (multi-objective optimization case), ``metric`` "
                    "must be defined."
                )
            self._metric = _DEFAULT_METRIC
        sampler = self._sampler or ot.samplers.TPESampler(seed=self._seed)
        if isinstance(mode, list):
            direction: dict[str, Any] = {
                "directions": ["minimize" if m == "min" else "maximize" for m in mode]
            }
        else:
            direction = {"direction": "minimize" if mode == "min" else "maximize"}
        self._ot_study = ot.study.create_study(
            storage=self._storage,
            sampler=sampler,
            pruner=ot.pruners.NopPruner(),
            study_name=self._study_name,
            load_if_exists=True,
            **direction,
        )
        if self._evaluated_rewards:
            for point, reward in zip(
                self._points_to_evaluate, self._evaluated_rewards, strict=True
            ):
                self.add_evaluated_point(point, reward)
        else:
            for point in self._points_to_evaluate:
                self._ot_study.enqueue_trial(point)

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        if self._space:
            return False
        self._space = self.convert_search_space(config)
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        self._setup_study(self._mode)
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if not self._space:
            raise RuntimeError(
                "Trying to sample a configuration from OptunaSearch, but no search space has "
                "been defined. Either pass the `space` argument when instantiating the search "
                "algorithm, or pass a `param_space` to `tune.Tuner()`."
            )
        if not self._metric or not self._mode:
            raise RuntimeError(
                f"Trying to sample a configuration from OptunaSearch, but the `metric` "
                f"({self._metric}) or `mode` ({self._mode}) parameters have not been set. "
                "Either pass these arguments when instantiating the search algorithm, or pass "
                "them to `tune.TuneConfig()`."
            )
        if callable(self._space):
            if trial_id not in self._ot_trials:
                self._ot_trials[trial_id] = self._ot_study.ask()
            params = self._suggest_from_define_by_run_func(self._space, self._ot_trials[trial_id])
        else:
            if trial_id not in self._ot_trials:
                self._ot_trials[trial_id] = self._ot_study.ask(fixed_distributions=self._space)
            params = self._ot_trials[trial_id].params
        return _unflatten(params)

    def _suggest_from_define_by_run_func(self, func: Any, ot_trial: Any) -> dict[str, Any]:
        captor = _OptunaTrialSuggestCaptor(ot_trial)
        ret = func(captor)
        if ret is not None:
            if not isinstance(ret, dict):
                raise TypeError(
                    "The return value of the define-by-run function passed in the `space` "
                    f"argument should be either None or a `dict` with `str` keys. Got "
                    f"{type(ret)}."
                )
            if not all(isinstance(k, str) for k in ret):
                raise TypeError(
                    "At least one of the keys in the dict returned by the define-by-run "
                    "function passed in the `space` argument was not a `str`."
                )
        return {**captor.captured_values, **ret} if ret else captor.captured_values

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if isinstance(self.metric, list) or trial_id in self._completed_trials:
            return
        if trial_id in self._ot_trials and self.metric in result:
            self._ot_trials[trial_id].report(result[self.metric], result["training_iteration"])

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        val: Any = None
        if result:
            if isinstance(self.metric, list):
                val = [result.get(m) for m in self.metric]
            else:
                val = result.get(self.metric)  # type: ignore[arg-type]
        state = OptunaTrialState.COMPLETE
        if val is None:
            state = OptunaTrialState.FAIL if error else OptunaTrialState.PRUNED
        try:
            self._ot_study.tell(self._ot_trials[trial_id], val, state=state)
        except Exception:  # e.g. a NaN metric: Optuna refuses it, the search goes on (as Ray)
            pass
        self._completed_trials.add(trial_id)

    def add_evaluated_point(
        self,
        parameters: dict[str, Any],
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        if not self._space or callable(self._space):
            raise TypeError(
                "OptunaSearch.add_evaluated_point needs the search space as a dict (Tune "
                "domains or optuna distributions), not a define-by-run function."
            )
        state = OptunaTrialState.COMPLETE
        if error:
            state = OptunaTrialState.FAIL
        elif pruned:
            state = OptunaTrialState.PRUNED
        trial = ot.trial.create_trial(
            state=state,
            value=None if state == OptunaTrialState.FAIL else value,
            params=parameters,
            distributions=self._space,
            intermediate_values=dict(enumerate(intermediate_values))
            if intermediate_values
            else None,
        )
        self._ot_study.add_trial(trial)

    @staticmethod
    def convert_search_space(spec: dict[str, Any]) -> dict[str, Any]:
        """A Tune param space's domains as Optuna distributions, keyed "a/b" by path."""
        _, domains = split_spec(spec)
        if not domains:
            return {}
        if any(d.is_grid() for d in domains.values()):
            raise ValueError(
                "Grid search parameters cannot be automatically converted to an Optuna search "
                "space."
            )
        return {"/".join(str(k) for k in path): _distribution(d) for path, d in domains.items()}


def _distribution(domain: Domain) -> Any:
    dist = ot.distributions
    q, sampler = domain.q, domain.sampler
    if isinstance(domain, Float):
        if sampler == "loguniform":
            return dist.FloatDistribution(domain.lower, domain.upper, log=True)
        if sampler == "uniform":
            if q:
                return dist.FloatDistribution(domain.lower, domain.upper, step=q)
            return dist.FloatDistribution(domain.lower, domain.upper)
    elif isinstance(domain, Integer):
        if sampler == "loguniform":
            return dist.IntDistribution(domain.lower, domain.upper - 1, step=q or 1, log=True)
        if sampler == "uniform":
            return dist.IntDistribution(domain.lower, domain.upper - int(not q), step=int(q or 1))
    elif isinstance(domain, Categorical) and sampler == "uniform":
        return dist.CategoricalDistribution(domain.categories)
    raise ValueError(
        f"Optuna search does not support parameters of type `{type(domain).__name__}` with "
        f"samplers of type `{sampler}`: use uniform, quniform, loguniform, randint, qrandint, "
        "lograndint or choice."
    )


def _unflatten(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        node = out
        *parents, leaf = key.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
