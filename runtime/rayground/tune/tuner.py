"""`Tuner`: set up an experiment (trainable, param space, configs), `fit()` it into a
`ResultGrid`, and `Tuner.restore` it from its folder after the driver died."""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
from datetime import datetime
from typing import Any

import cloudpickle

from . import storage
from .config import RunConfig, TuneConfig, check_mode, default_storage_path
from .controller import TuneController
from .live import TrialsView, maybe_live_view
from .result import ResultGrid
from .schedulers.trial_scheduler import FIFOScheduler
from .search.basic_variant import BasicVariantGenerator
from .search.searcher import ConcurrencyLimiter, Searcher, SearchGenerator
from .status_board import StatusCallback
from .trainable import check_trainable, is_class_trainable, trainable_name
from .trial import Trial

logger = logging.getLogger(__name__)


def _checkpoint_at_end_default(trainable: Any, run_config: RunConfig) -> RunConfig:
    """Ray's Tuner reads CheckpointConfig(checkpoint_at_end=None) as True for a class
    Trainable (its save_checkpoint() runs when a trial ends) and False for a function; the
    user's config objects are left as they were."""
    checkpoint_config = run_config.checkpoint_config
    if checkpoint_config is None or checkpoint_config.checkpoint_at_end is not None:
        return run_config
    at_end = is_class_trainable(trainable)
    return dataclasses.replace(
        run_config,
        checkpoint_config=dataclasses.replace(checkpoint_config, checkpoint_at_end=at_end),
    )


def _search_alg(tune_config: TuneConfig) -> Any:
    """The search algorithm, with `max_concurrent_trials` applied as Ray applies it: it limits
    the trials that are live (running or paused, not yet finished), through the default
    generator's `max_concurrent` or a `ConcurrencyLimiter` around a Searcher; a search
    algorithm that is not a Searcher (a BasicVariantGenerator passed in) is not limited."""
    alg = tune_config.search_alg
    limit = tune_config.max_concurrent_trials
    if alg is None:
        return BasicVariantGenerator(max_concurrent=limit or 0)
    if isinstance(alg, ConcurrencyLimiter):
        if limit and alg.max_concurrent != limit:
            raise ValueError(
                f"You have specified `max_concurrent_trials={limit}`, but the `search_alg` is "
                f"already a `ConcurrencyLimiter` with `max_concurrent={alg.max_concurrent}`. "
                "FIX THIS by setting `max_concurrent_trials=None`."
            )
    elif limit:
        if limit < 1:
            raise ValueError(
                f"`max_concurrent_trials` must be greater or equal than 1, got {limit}."
            )
        if isinstance(alg, Searcher):
            alg = ConcurrencyLimiter(alg, max_concurrent=limit)
        else:
            logger.warning(
                "You have passed a `%s` instance as the `search_alg`, but "
                "`max_concurrent_trials` requires a `Searcher` instance. "
                "`max_concurrent_trials` will be ignored.",
                type(alg).__name__,
            )
    if isinstance(alg, Searcher):
        return SearchGenerator(alg)
    if hasattr(alg, "next_trial"):
        return alg
    raise TypeError(
        f"TuneConfig(search_alg=...) must be a rayground.tune search algorithm (a Searcher, "
        f"BasicVariantGenerator, ConcurrencyLimiter, OptunaSearch), got {type(alg).__name__}."
    )


class Tuner:
    def __init__(
        self,
        trainable: Any = None,
        *,
        param_space: dict[str, Any] | None = None,
        tune_config: TuneConfig | None = None,
        run_config: RunConfig | None = None,
        _resources: Any = None,
        _restored: dict[str, Any] | None = None,
    ) -> None:
        check_trainable(trainable)
        if param_space is not None and not isinstance(param_space, dict):
            raise TypeError(
                f"param_space must be a dict (of values and search spaces), got "
                f"{type(param_space).__name__}."
            )
        self._trainable = trainable
        self._param_space = dict(param_space or {})
        self._tune_config = tune_config or TuneConfig()
        self._run_config = _checkpoint_at_end_default(trainable, run_config or RunConfig())
        self._resources = _resources
        self._restored = _restored
        self._results: ResultGrid | None = None

    # ------------------------------------------------------------------ running
    def _experiment_dir(self) -> tuple[str, str]:
        if self._restored is not None:
            return self._restored["exp_dir"], self._restored["experiment_name"]
        name = self._run_config.name or (
            f"{trainable_name(self._trainable)}_{datetime.now().strftime('%Y-%m-%d_%H-%M-%S')}"
        )
        root = os.path.expanduser(self._run_config.storage_path or default_storage_path())
        return os.path.join(root, name), name

    def fit(self) -> ResultGrid:
        tc = self._tune_config
        check_mode(tc.mode, "`tune.run(...)`")
        exp_dir, name = self._experiment_dir()
        storage.make_dir(exp_dir)
        trials: list[Trial] = []
        if self._restored is not None:
            state = self._restored["state"]
            trials = state["trials"]
            search_alg = state["search_alg"] or _search_alg(tc)
            scheduler = state["scheduler"] or tc.scheduler or FIFOScheduler()
        else:
            search_alg = _search_alg(tc)
            scheduler = tc.scheduler or FIFOScheduler()
            search_alg.setup(self._param_space, tc.num_samples, tc.metric, tc.mode)
            if not scheduler.set_search_properties(tc.metric, tc.mode):
                raise ValueError(
                    f"You passed a `metric` or `mode` argument to `tune.TuneConfig()`, but the "
                    f"scheduler {type(scheduler).__name__} already has one set. Set them in "
                    "one place only."
                )
            self._save_tuner(exp_dir)
        callbacks = list(self._run_config.callbacks or [])
        if not any(isinstance(cb, TrialsView) for cb in callbacks):
            view = maybe_live_view(self._run_config.verbose, tc.metric, tc.mode)
            if view is not None:
                callbacks.append(view)
        callbacks.append(StatusCallback(name, tc.metric, tc.mode))
        controller = TuneController(
            self._trainable,
            param_space=self._param_space,
            tune_config=tc,
            run_config=self._run_config,
            exp_dir=exp_dir,
            experiment_name=name,
            search_alg=search_alg,
            scheduler=scheduler,
            default_resources=self._resources,
            trials=trials,
            callbacks=callbacks,
            restored=self._restored is not None,
        )
        if self._restored is not None:
            controller.restore_state(self._restored["state"])
        trials = controller.run()
        self._results = ResultGrid(trials, exp_dir, tc.metric, tc.mode)
        return self._results

    def get_results(self) -> ResultGrid:
        if self._results is None:
            raise RuntimeError(
                "Tuner.get_results() has no results yet: call Tuner.fit() first (or restore "
                "the experiment with Tuner.restore(path, trainable) and fit it)."
            )
        return self._results

    def _save_tuner(self, exp_dir: str) -> None:
        data = {
            "param_space": self._param_space,
            "tune_config": _picklable_config(self._tune_config),
            "run_config": self._run_config,
            "resources": self._resources,
        }
        try:
            blob = cloudpickle.dumps(data)
        except Exception:
            data["run_config"] = copy.copy(self._run_config)
            data["run_config"].callbacks = None
            blob = cloudpickle.dumps(data)
        storage.atomic_write(os.path.join(exp_dir, storage.TUNER_PICKLE), blob)

    # ------------------------------------------------------------------ restoring
    @classmethod
    def can_restore(cls, path: str | os.PathLike[str], storage_filesystem: Any = None) -> bool:
        """Whether `path` holds an experiment that `Tuner.restore` can pick up."""
        return storage.has_experiment_state(os.fspath(path))

    @classmethod
    def restore(
        cls,
        path: str | os.PathLike[str],
        trainable: Any,
        *,
        resume_unfinished: bool = True,
        resume_errored: bool = False,
        restart_errored: bool = False,
        param_space: dict[str, Any] | None = None,
        storage_filesystem: Any = None,
        _resume_config: Any = None,
    ) -> Tuner:
        """Continue the experiment in `path`: finished trials stay as they are, unfinished ones
        resume from their latest checkpoint (or start over without one)."""
        exp_dir = os.path.abspath(os.path.expanduser(os.fspath(path)))
        if not cls.can_restore(exp_dir):
            raise ValueError(
                f"No Tune experiment to restore in {exp_dir}: expected the folder a Tuner wrote "
                "(<storage_path>/<name>). Check the path, or start a new Tuner."
            )
        with open(os.path.join(exp_dir, storage.TUNER_PICKLE), "rb") as f:
            saved = cloudpickle.load(f)
        with open(os.path.join(exp_dir, storage.STATE_PICKLE), "rb") as f:
            state = cloudpickle.load(f)
        for trial in state["trials"]:
            if trial.status in (Trial.RUNNING, Trial.PAUSED, Trial.PENDING):
                if not resume_unfinished:
                    trial.status = Trial.ERROR
                    trial.error_msg = "not resumed (resume_unfinished=False)"
                    continue
                trial.status = Trial.PENDING
                if trial.checkpoints:
                    trial.restore_path = trial.checkpoints[-1][0]
            elif trial.status == Trial.ERROR and (resume_errored or restart_errored):
                trial.status = Trial.PENDING
                trial.num_failures = 0
                trial.error_msg = None
                if restart_errored:
                    trial.checkpoints = []
                    trial.restore_path = None
                    trial.last_result = {}
                elif trial.checkpoints:
                    trial.restore_path = trial.checkpoints[-1][0]
        run_config = saved["run_config"]
        run_config.storage_path = os.path.dirname(exp_dir)
        run_config.name = os.path.basename(exp_dir)
        tuner = cls(
            trainable,
            param_space=param_space or saved["param_space"],
            tune_config=saved["tune_config"],
            run_config=run_config,
            _resources=saved.get("resources"),
            _restored={
                "exp_dir": exp_dir,
                "experiment_name": os.path.basename(exp_dir),
                "state": state,
            },
        )
        return tuner


def _picklable_config(tune_config: TuneConfig) -> TuneConfig:
    # The searcher and scheduler are saved with the experiment state (with their progress).
    saved = copy.copy(tune_config)
    try:
        cloudpickle.dumps(saved)
    except Exception:
        saved.search_alg = None
        saved.scheduler = None
    return saved
