"""`HyperOptSearch`: HyperOpt's TPE suggests each trial's config and learns from the trials'
final metrics, as Ray Tune's wrapper does.

The search space is a Tune param space (converted to `hyperopt.hp` expressions, each named by
its path joined with "/") or a HyperOpt space (a dict of `hp.*`), given here or taken from the
Tuner's `param_space`. Each Tune trial is one HyperOpt trial: `suggest` asks TPE (random draws
for the first `n_initial_points`), a trial's end tells HyperOpt its metric (negated for
mode="max": HyperOpt minimises), or marks it an error. The seeds are drawn as Ray's wrapper
draws them (`numpy.random.RandomState(random_state_seed)`), so the same seed, space and order
suggest the same configs on both.
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

import numpy as np

from ..sample import Categorical, Domain, Float, Integer
from ..searcher import Searcher
from ..variant_generator import split_spec

try:
    import hyperopt as hpo
except ImportError:  # optional: only this searcher needs it
    hpo = None

_DEFAULT_METRIC = "_metric"
_UNDEFINED_SPACE = (
    "Trying to sample a configuration from HyperOptSearch, but no search space has been "
    "defined. Either pass the `space` argument when instantiating the search algorithm, or "
    "pass a `param_space` to `tune.Tuner()`."
)


class HyperOptSearch(Searcher):
    def __init__(
        self,
        space: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        n_initial_points: int = 20,
        random_state_seed: int | None = None,
        gamma: float = 0.25,
    ) -> None:
        # Ray asserts these (AssertionErrors with the same words).
        assert hpo is not None, "HyperOpt must be installed! Run `pip install hyperopt`."
        if mode:
            assert mode in ["min", "max"], "`mode` must be 'min' or 'max'."
        super().__init__(metric=metric, mode=mode)
        self.metric_op = -1.0 if mode == "max" else 1.0
        algo: Any = hpo.tpe.suggest
        if n_initial_points is not None:
            algo = partial(algo, n_startup_jobs=n_initial_points)
        if gamma is not None:
            algo = partial(algo, gamma=gamma)
        self.algo = algo
        self._points_to_evaluate: Any = copy.deepcopy(points_to_evaluate)
        self._live_trial_mapping: dict[str, tuple[int, dict[str, Any]]] = {}
        self.rstate = np.random.RandomState(random_state_seed)
        self.domain: Any = None
        self._space: Any = None
        if isinstance(space, dict) and space:
            _, domains = split_spec(space)
            if domains:
                space = self.convert_search_space(space)
            self._space = space
            self._setup_hyperopt()

    def _setup_hyperopt(self) -> None:
        from hyperopt.fmin import generate_trials_to_calculate

        if not self._space:
            raise RuntimeError(_UNDEFINED_SPACE)
        if self._metric is None and self._mode:
            self._metric = _DEFAULT_METRIC
        if self._points_to_evaluate is None:
            self._hpopt_trials = hpo.Trials()
            self._points_to_evaluate = 0
        else:
            if not isinstance(self._points_to_evaluate, list | tuple):
                raise TypeError("points_to_evaluate must be a list of config dicts.")
            points = [self._categories_to_indices(dict(p)) for p in self._points_to_evaluate]
            # HyperOpt hands them out from the end: reversed, the first point runs first
            self._hpopt_trials = generate_trials_to_calculate(list(reversed(points)))
            self._hpopt_trials.refresh()
            self._points_to_evaluate = len(points)
        self.domain = hpo.Domain(lambda spc: spc, self._space)

    def _categories_to_indices(self, config: dict[str, Any]) -> dict[str, Any]:
        """A point gives a choice's value; HyperOpt wants its index (as Ray converts it)."""
        for key, value in config.items():
            expr = self._space.get(key) if isinstance(self._space, dict) else None
            if isinstance(value, dict) and isinstance(expr, dict):
                continue
            if isinstance(expr, hpo.base.pyll.Apply) and expr.name == "switch":
                categories = [a.obj for a in expr.pos_args[1:] if a.name == "literal"]
                if value not in categories:
                    raise ValueError(
                        f"Did not find category with value `{value}` in hyperopt parameter "
                        f"`{key}`. Please make sure the specified category is valid."
                    )
                config[key] = categories.index(value)
        return config

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        if self.domain:
            return False
        self._space = self.convert_search_space(config)
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        self.metric_op = -1.0 if self._mode == "max" else 1.0
        self._setup_hyperopt()
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if not self.domain:
            raise RuntimeError(_UNDEFINED_SPACE)
        if not self._metric or not self._mode:
            raise RuntimeError(
                f"Trying to sample a configuration from HyperOptSearch, but the `metric` "
                f"({self._metric}) or `mode` ({self._mode}) parameters have not been set. "
                "Either pass these arguments when instantiating the search algorithm, or pass "
                "them to `tune.TuneConfig()`."
            )
        if self._points_to_evaluate > 0:
            new_trial = self._hpopt_trials.trials[self._points_to_evaluate - 1]
            self._points_to_evaluate -= 1
        else:
            new_ids = self._hpopt_trials.new_trial_ids(1)
            self._hpopt_trials.refresh()
            new_trials = self.algo(
                new_ids, self.domain, self._hpopt_trials, self.rstate.randint(2**31 - 1)
            )
            self._hpopt_trials.insert_trial_docs(new_trials)
            self._hpopt_trials.refresh()
            new_trial = new_trials[0]
        self._live_trial_mapping[trial_id] = (new_trial["tid"], new_trial)
        config = hpo.base.spec_from_misc(new_trial["misc"])
        ctrl = hpo.base.Ctrl(self._hpopt_trials, current_trial=new_trial)
        memo = self.domain.memo_from_config(config)
        hpo.utils.use_obj_for_literal_in_memo(self.domain.expr, ctrl, hpo.base.Ctrl, memo)
        suggested = hpo.pyll.rec_eval(self.domain.expr, memo=memo, print_node_on_error=False)
        return copy.deepcopy(suggested)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        ho_trial = self._get_hyperopt_trial(trial_id)
        if ho_trial is not None:
            now = hpo.utils.coarse_utcnow()
            ho_trial["book_time"] = now
            ho_trial["refresh_time"] = now

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        ho_trial = self._get_hyperopt_trial(trial_id)
        if ho_trial is None:
            return
        ho_trial["refresh_time"] = hpo.utils.coarse_utcnow()
        if error:
            ho_trial["state"] = hpo.base.JOB_STATE_ERROR
            ho_trial["misc"]["error"] = ("TuneError", "Tune Error")
        elif result:
            if self.metric not in result:
                raise RuntimeError(
                    f"Hyperopt expected to see the metric `{self.metric}` in the last result, "
                    "but it was not found. To fix this, make sure your call to `tune.report` "
                    "or your return value of your trainable class `step()` contains the above "
                    "metric as a key."
                )
            ho_trial["state"] = hpo.base.JOB_STATE_DONE
            ho_trial["result"] = {"loss": self.metric_op * result[self.metric], "status": "ok"}
        self._hpopt_trials.refresh()
        del self._live_trial_mapping[trial_id]

    def _get_hyperopt_trial(self, trial_id: str) -> dict[str, Any] | None:
        if trial_id not in self._live_trial_mapping:
            return None
        tid = self._live_trial_mapping[trial_id][0]
        return next(t for t in self._hpopt_trials.trials if t["tid"] == tid)

    def get_state(self) -> dict[str, Any]:
        return {"hyperopt_trials": self._hpopt_trials, "rstate": self.rstate.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        self._hpopt_trials = state["hyperopt_trials"]
        self.rstate.set_state(state["rstate"])

    @staticmethod
    def convert_search_space(spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        """A Tune param space as HyperOpt expressions, nested as the space is; each named by
        its path joined with "/"."""
        _, domains = split_spec(copy.deepcopy(spec))
        if not domains:
            return {}
        if any(d.is_grid() for d in domains.values()):
            raise ValueError(
                "Grid search parameters cannot be automatically converted to a HyperOpt search "
                "space."
            )
        out: dict[str, Any] = {}
        for path, domain in domains.items():
            name = "/".join(str(k) for k in (([prefix] if prefix else []) + list(path)))
            node = out
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = _expression(name, domain)
        return out


def _expression(par: str, domain: Domain) -> Any:
    hp, scope = hpo.hp, hpo.base.pyll.scope
    q, sampler = domain.q, domain.sampler
    if isinstance(domain, Float):
        if sampler == "loguniform":
            lo, hi = np.log(domain.lower), np.log(domain.upper)
            return hp.qloguniform(par, lo, hi, q) if q else hp.loguniform(par, lo, hi)
        if sampler == "uniform":
            lo, hi = domain.lower, domain.upper
            return hp.quniform(par, lo, hi, q) if q else hp.uniform(par, lo, hi)
        if sampler == "normal":
            mean, sd = domain.mean, domain.sd
            return hp.qnormal(par, mean, sd, q) if q else hp.normal(par, mean, sd)
    elif isinstance(domain, Integer):
        if sampler == "loguniform":
            lo = np.log(domain.lower)
            if q:
                return scope.int(hp.qloguniform(par, lo, np.log(domain.upper), q))
            return scope.int(hp.qloguniform(par, lo, np.log(domain.upper - 1), 1.0))
        if sampler == "uniform":
            if q:
                return scope.int(hp.quniform(par, domain.lower, domain.upper - 1, q))
            return hp.uniformint(par, domain.lower, high=domain.upper - 1)
    elif isinstance(domain, Categorical) and sampler == "uniform":
        if any(isinstance(c, dict | Domain) for c in domain.categories):
            raise ValueError(
                f"HyperOptSearch on rayground: the choice {par!r} holds nested search spaces; "
                "give plain values, or pass a HyperOpt space (hp.choice) as `space`."
            )
        return hp.choice(par, list(domain.categories))
    raise ValueError(
        f"HyperOpt does not support parameters of type `{type(domain).__name__}` with samplers "
        f"of type `{sampler}`: use uniform, quniform, loguniform, qloguniform, randn, randint, "
        "qrandint, lograndint or choice."
    )
