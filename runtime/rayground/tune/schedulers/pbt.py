"""`PopulationBasedTraining`: every `perturbation_interval`, a trial in the bottom quantile
copies (exploits) a top-quantile trial's checkpoint and continues from it with a perturbed copy
of that trial's config (explore). Asynchronous by default (`synch=False`): each trial is
perturbed on its own when it reaches its interval. With `synch=True` (Ray's synchronous mode) a
trial reaching the next perturbation point is PAUSED until every live trial is there; then the
whole population is ranked at once, the top quantile checkpointed and the bottom quantile
exploits it, and the next point is `perturbation_interval` later. `choose_trial_to_run` then
resumes the trials that trained least first.

Exploiting goes through the controller: the top trial is checkpointed (`save_trial`), and the
bottom trial is restarted from that checkpoint with the new config (`exploit_trial`). Function
trainables must report a checkpoint at least every perturbation_interval, and read it back with
`tune.get_checkpoint()`, as on Ray.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from typing import Any

from ..search.sample import Domain
from ..search.variant_generator import format_vars
from .trial_scheduler import FIFOScheduler, TrialScheduler, fmt


def _explore(
    config: dict[str, Any],
    mutations: dict[str, Any],
    resample_probability: float,
    perturbation_factors: tuple[float, ...],
    custom_explore_fn: Callable[[dict[str, Any]], dict[str, Any]] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The new config and what was done to each mutated key (Ray's rule)."""
    operations: dict[str, Any] = {}
    new = copy.deepcopy(config)
    for key, distribution in mutations.items():
        if isinstance(distribution, dict):
            new[key], operations[key] = _explore(
                config[key], distribution, resample_probability, perturbation_factors, None
            )
        elif isinstance(distribution, (list, tuple)):
            if random.random() < resample_probability or config[key] not in distribution:
                new[key] = random.choice(distribution)
                operations[key] = "resample"
            else:
                shift = random.choice([-1, 1])
                old = list(distribution).index(config[key])
                idx = min(max(old + shift, 0), len(distribution) - 1)
                new[key] = distribution[idx]
                operations[key] = f"shift {'left' if shift == -1 else 'right'}" + (
                    " (noop)" if old == idx else ""
                )
        elif isinstance(distribution, Domain) or callable(distribution):
            if random.random() < resample_probability:
                new[key] = (
                    distribution.sample(None)
                    if isinstance(distribution, Domain)
                    else distribution()
                )
                operations[key] = "resample"
            else:
                factor = random.choice(perturbation_factors)
                new[key] = config[key] * factor
                operations[key] = f"* {factor}"
            if isinstance(config[key], bool):
                new[key] = bool(new[key])
            elif isinstance(config[key], int):
                new[key] = round(new[key])
        else:
            raise ValueError(
                f"Unsupported hyperparameter distribution type: {type(distribution)} for "
                f"{key!r}: use a list of values, a tune search space, or a function."
            )
    if custom_explore_fn:
        new = custom_explore_fn(new)
        if new is None:
            raise ValueError("custom_explore_fn must return the new config.")
    return new, operations


def _fill(config: dict[str, Any], key: str, space: Any) -> None:
    if isinstance(space, Domain):
        config[key] = space.sample(None)
    elif callable(space):
        config[key] = space()
    elif isinstance(space, (list, tuple)):
        config[key] = random.choice(space)
    elif isinstance(space, dict):
        config[key] = {}
        for k, v in space.items():
            _fill(config[key], k, v)


class _TrialState:
    def __init__(self) -> None:
        self.last_score: float | None = None
        self.last_perturbation_time = 0.0
        self.last_train_time = 0.0  # where the trial was at its last perturbation point (synch)
        self.last_checkpoint: str | None = None
        self.last_result: dict[str, Any] | None = None


class PopulationBasedTraining(FIFOScheduler):
    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        perturbation_interval: float = 60.0,
        burn_in_period: float = 0.0,
        hyperparam_mutations: dict[str, Any] | None = None,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: tuple[float, float] = (1.2, 0.8),
        custom_explore_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
    ) -> None:
        if not hyperparam_mutations and not custom_explore_fn:
            raise ValueError(
                "You must specify at least one of `hyperparam_mutations` or "
                "`custom_explore_fn` to use PBT."
            )
        if quantile_fraction > 0.5 or quantile_fraction < 0:
            raise ValueError(
                f"You must set `quantile_fraction` to a value between 0 and 0.5, got "
                f"{quantile_fraction}."
            )
        if perturbation_interval <= 0:
            raise ValueError(
                f"perturbation_interval must be a positive number, got {perturbation_interval}."
            )
        super().__init__(metric, mode)
        self._time_attr = time_attr
        self._perturbation_interval = perturbation_interval
        self._burn_in_period = burn_in_period
        self._hyperparam_mutations = dict(hyperparam_mutations or {})
        self._quantile_fraction = quantile_fraction
        self._resample_probability = resample_probability
        self._perturbation_factors = tuple(perturbation_factors)
        self._custom_explore_fn = custom_explore_fn
        self._require_attrs = require_attrs
        self._synch = synch
        self._next_perturbation_sync = max(perturbation_interval, burn_in_period)
        self._trial_state: dict[str, _TrialState] = {}
        self._trials: dict[str, Any] = {}
        self._num_perturbations = 0
        self.exploits: list[dict[str, Any]] = []

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._require_metric()
        self._trial_state[trial.trial_id] = _TrialState()
        self._trials[trial.trial_id] = trial
        for key, space in self._hyperparam_mutations.items():
            if key not in trial.config:
                _fill(trial.config, key, space)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        if self._time_attr not in result or self._metric not in result:
            if self._require_attrs:
                raise RuntimeError(
                    f"Cannot find {self._time_attr} or {self._metric} in the trial result. "
                    "Make sure these fields are reported by the trainable."
                )
            return TrialScheduler.CONTINUE
        time = result[self._time_attr]
        state = self._trial_state[trial.trial_id]
        if time < self._burn_in_period:
            return TrialScheduler.CONTINUE
        if time - state.last_perturbation_time < self._perturbation_interval:
            return TrialScheduler.CONTINUE
        sign = 1 if self._mode == "max" else -1
        state.last_score = sign * result[self._metric]
        state.last_train_time = time
        state.last_result = result
        if self._synch:
            return self._on_sync_point(tune_controller, trial, time)
        state.last_perturbation_time = time
        lower, upper = self._quantiles()
        if trial.trial_id in upper:
            state.last_checkpoint = tune_controller.save_trial(trial)
            return TrialScheduler.CONTINUE
        if trial.trial_id in lower and upper:
            if self._exploit(tune_controller, trial, random.choice(upper), time):
                return TrialScheduler.NOOP
        return TrialScheduler.CONTINUE

    def _on_sync_point(self, tune_controller: Any, trial: Any, time: float) -> str:
        """Synchronous mode: wait (PAUSED) for the others; the last one to arrive perturbs
        the whole population, strongest first, so donors are checkpointed before the weak
        exploit them. Every trial ends up paused (or pending with a donor's checkpoint)."""
        if any(
            self._trial_state[t.trial_id].last_train_time < self._next_perturbation_sync
            and t is not trial
            for t in tune_controller.get_live_trials()
        ):
            return TrialScheduler.PAUSE
        lower, upper = self._quantiles()
        middle = [tid for tid in self._trial_state if tid not in lower and tid not in upper]
        for tid in upper + middle + lower:
            state = self._trial_state[tid]
            state.last_perturbation_time = time
            if tid in upper:
                state.last_checkpoint = tune_controller.save_trial(self._trials[tid])
            else:
                state.last_checkpoint = None
            if tid in lower:
                self._exploit(tune_controller, self._trials[tid], random.choice(upper), time)
        self._next_perturbation_sync = max(
            self._next_perturbation_sync + self._perturbation_interval,
            max(s.last_train_time for s in self._trial_state.values()),
        )
        return TrialScheduler.NOOP if trial.status != "RUNNING" else TrialScheduler.PAUSE

    def _exploit(self, tune_controller: Any, trial: Any, donor_id: str, time: float) -> bool:
        """Restart `trial` from the donor's checkpoint with an explored copy of its config;
        False when the donor has no checkpoint to give."""
        state = self._trial_state[trial.trial_id]
        donor = self._trial_state[donor_id]
        if donor.last_checkpoint is None:
            return False
        donor_trial = self._trials[donor_id]
        new_config, ops = _explore(
            donor_trial.config,
            self._hyperparam_mutations,
            self._resample_probability,
            self._perturbation_factors,
            self._custom_explore_fn,
        )
        self._num_perturbations += 1
        self.exploits.append(
            {
                "trial_id": trial.trial_id,
                "donor": donor_id,
                "time": time,
                "config": new_config,
                "operations": ops,
            }
        )
        trial.experiment_tag = (
            f"{trial.experiment_tag}@perturbed["
            f"{format_vars({(k,): new_config[k] for k in self._hyperparam_mutations})}]"
        )
        metric = (state.last_result or {}).get(self._metric)
        state.last_score = donor.last_score
        state.last_perturbation_time = donor.last_perturbation_time
        state.last_train_time = donor.last_train_time
        tune_controller.exploit_trial(
            trial,
            new_config,
            donor.last_checkpoint,
            f"exploited {donor_trial} at {self._time_attr} {fmt(time)}: "
            f"{self._metric} {fmt(metric)} was in the bottom "
            f"{self._quantile_fraction:.0%}",
        )
        return True

    def _quantiles(self) -> tuple[list[str], list[str]]:
        ids = [
            tid
            for tid, state in self._trial_state.items()
            if state.last_score is not None
            and not math.isnan(state.last_score)
            and not self._trials[tid].is_finished()
        ]
        ids.sort(key=lambda tid: self._trial_state[tid].last_score)  # type: ignore[arg-type,return-value]
        if len(ids) <= 1:
            return [], []
        n = math.ceil(len(ids) * self._quantile_fraction)
        if n > len(ids) / 2:
            n = math.floor(len(ids) / 2)
        return ids[:n], ids[-n:]

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        # Among waiting trials, the one that has trained least goes first (as Ray's PBT); in
        # synchronous mode only those not yet at the next perturbation point.
        waiting = [
            t
            for t in tune_controller.get_trials()
            if t.status in ("PENDING", "PAUSED")
            and (not self._synch or self._state(t).last_train_time < self._next_perturbation_sync)
        ]
        if not waiting:
            return None
        key = "last_train_time" if self._synch else "last_perturbation_time"
        return min(waiting, key=lambda t: getattr(self._state(t), key))

    def _state(self, trial: Any) -> _TrialState:
        return self._trial_state.get(trial.trial_id) or _TrialState()

    def debug_string(self) -> str:
        return f"PopulationBasedTraining: {self._num_perturbations} checkpoints, 0 perturbs"
