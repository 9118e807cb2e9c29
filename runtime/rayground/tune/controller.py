"""The experiment loop, in the driver: creates trials from the search algorithm, runs them as
actors while the cluster has room, and feeds each result to the stop criteria, the scheduler and
the searcher.

    search alg --next_trial--> Trial (PENDING) --scheduler.choose_trial_to_run--> start on an
    actor (a fresh one, or an idle one whose last trial ended) --next()--> result
      -> stop criteria / scheduler: CONTINUE (next() again), PAUSE (save, free the actor),
         STOP (free the actor); an error: retry from the last checkpoint up to max_failures,
         then ERROR. The experiment goes on either way.

Only the driver decides; trials run at most one result ahead (see trial_runner.py). The state
(trials, searcher, scheduler) is saved under the experiment folder after every status change
and checkpoint, so `Tuner.restore` picks up after a killed driver.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime
from typing import Any

import cloudpickle

import rayground
from rayground.exceptions import RayActorError
from rayground.util import remove_placement_group
from rayground.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from . import storage
from .callback import Callback
from .placement_groups import resource_dict_to_pg_factory
from .schedulers.trial_scheduler import TrialScheduler
from .search.basic_variant import BasicVariantGenerator
from .search.searcher import FINISHED, ConcurrencyLimiter
from .stopper import DictStopper, make_stopper
from .trainable import is_class_trainable, normalize_resources, trainable_name, trial_resources
from .trial import AUTO_KEYS, Trial
from .trial_runner import _error_event, actor_class

# How long one wait for results may block, so the time budget and idle searchers are checked.
_WAIT_S = 0.5
# Seconds between state saves caused by results alone (status changes save at once).
_SAVE_EVERY_S = 2.0
_STOP_TIMEOUT_S = 15.0


class TuneError(Exception):
    """The experiment could not go on (as `ray.tune.TuneError`)."""


class TuneController:
    def __init__(
        self,
        trainable: Any,
        *,
        param_space: dict[str, Any],
        tune_config: Any,
        run_config: Any,
        exp_dir: str,
        experiment_name: str,
        search_alg: Any,
        scheduler: TrialScheduler,
        default_resources: Any = None,
        trials: list[Trial] | None = None,
        callbacks: list[Callback] | None = None,
        restored: bool = False,
    ) -> None:
        self.trainable = trainable
        self.name = trainable_name(trainable)
        self.param_space = param_space
        self.tune_config = tune_config
        self.run_config = run_config
        self.exp_dir = exp_dir
        self.experiment_name = experiment_name
        self.search_alg = search_alg
        self.scheduler = scheduler
        self.default_resources = default_resources
        self.metric = tune_config.metric
        self.mode = tune_config.mode
        self.stopper = make_stopper(run_config.stop)
        self.callbacks = list(callbacks or [])
        self._trials: list[Trial] = list(trials or [])
        self._exp_prefix = uuid.uuid4().hex[:5]
        self._futures: dict[Any, Trial] = {}
        self._actors: dict[str, Any] = {}  # trial_id -> actor handle
        self._idle: list[tuple[tuple[tuple[str, float], ...], Any]] = []
        self._groups: dict[str, Any] = {}  # trial_id -> the placement group it runs in
        self._iteration = 0
        self._last_save = 0.0
        self._state_json = storage.state_json_path(exp_dir)
        self._actor_cls: Any = None
        self._stop_all = False
        self._restored = restored
        self._start = time.time()

    # ------------------------------------------------------------------ queries
    def get_trials(self) -> list[Trial]:
        return self._trials

    def get_live_trials(self) -> list[Trial]:
        return [t for t in self._trials if not t.is_finished()]

    # ------------------------------------------------------------------ the loop
    def run(self) -> list[Trial]:
        if not rayground.is_initialized():
            rayground.init()
        self._total = {k: float(v) for k, v in rayground.cluster_resources().items()}
        for cb in self.callbacks:
            cb.setup(stop=self.run_config.stop, num_samples=self.tune_config.num_samples)
        for trial in self._trials:
            self.scheduler.on_trial_add(self, trial)
        self._start = time.time()
        try:
            while True:
                if self.stopper is not None and self.stopper.stop_all():
                    self._stop_all = True  # checked every step, as Ray (TimeoutStopper)
                if self._budget_spent() or self._stop_all:
                    self._stop_everything(
                        "stopped: the experiment's time_budget_s ran out"
                        if not self._stop_all
                        else "stopped: stop_all()"
                    )
                    break
                self._launch()
                if not self._futures:
                    if self._nothing_left():
                        break
                    self._check_progress_possible()
                    continue
                ready, _ = rayground.wait(list(self._futures), num_returns=1, timeout=_WAIT_S)
                for ref in ready:
                    trial = self._futures.pop(ref)
                    self._on_event(trial, ref)
                self._iteration += 1
                for cb in self.callbacks:
                    cb.on_step_end(self._iteration, self._trials)
                if time.time() - self._last_save > _SAVE_EVERY_S:
                    self.save_state()
        finally:
            self._release_all()
            self.save_state()
        for cb in self.callbacks:
            cb.on_experiment_end(self._trials)
        return self._trials

    def _budget_spent(self) -> bool:
        budget = self.tune_config.time_budget_s
        return bool(budget) and time.time() - self._start > float(budget)

    def _nothing_left(self) -> bool:
        waiting = [t for t in self._trials if t.status in (Trial.PENDING, Trial.PAUSED)]
        return not waiting and self.search_alg.is_finished()

    def _check_progress_possible(self) -> None:
        waiting = [t for t in self._trials if t.status in (Trial.PENDING, Trial.PAUSED)]
        for trial in waiting:
            if not self._fits(trial.resources, used={}):
                raise TuneError(
                    f"Trial {trial} asks for {trial.resources} but the cluster only has "
                    f"{ {k: v for k, v in self._total.items() if k in trial.resources} }: lower "
                    "resources_per_trial (or tune.with_resources), or start the cluster with "
                    "more, e.g. ray.init(num_cpus=...)."
                )
        if not waiting and not self.search_alg.is_finished():
            # The searcher has nothing to suggest while no trial is running: it never will.
            raise TuneError(
                f"The search algorithm {type(self.search_alg).__name__} suggested no trial while "
                "none was running; the experiment cannot make progress."
            )
        if waiting:
            raise TuneError(
                f"{len(waiting)} trial(s) wait but the scheduler "
                f"{type(self.scheduler).__name__} chose none to run while nothing is running."
            )

    # ------------------------------------------------------------------ creating, starting
    def _used(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for trial in self._trials:
            if trial.status == Trial.RUNNING:
                for k, v in trial.resources.items():
                    used[k] = used.get(k, 0.0) + v
        for key, _ in self._idle:
            for k, v in key:
                used[k] = used.get(k, 0.0) + v
        return used

    def _fits(self, resources: dict[str, float], used: dict[str, float]) -> bool:
        return all(
            used.get(k, 0.0) + v <= self._total.get(k, 0.0) + 1e-9
            for k, v in resources.items()
            if v
        )

    def _max_pending(self) -> int:
        """How many PENDING trials to create ahead of running them (Ray's rule): with the
        basic variant generator, up to 200, so a scheduler sees trials as Ray's does (HyperBand
        fills its brackets in creation order before any trial runs); with another searcher, 1
        (or its ConcurrencyLimiter's max_concurrent), so it learns from results before
        suggesting more. TUNE_MAX_PENDING_TRIALS_PG overrides it, as on Ray."""
        env = os.environ.get("TUNE_MAX_PENDING_TRIALS_PG", "auto")
        if env != "auto":
            return int(env)
        if not isinstance(self.search_alg, BasicVariantGenerator):
            searcher = self.search_alg
            while searcher is not None:
                if isinstance(searcher, ConcurrencyLimiter):
                    return searcher.max_concurrent
                searcher = getattr(searcher, "searcher", None)
            return 1
        return max(200, int(self._total.get("CPU", 1.0) * 1.1))

    def _launch(self) -> None:
        # max_concurrent_trials is applied by the search algorithm (tuner._search_alg), as in
        # Ray: it counts live trials, paused ones included, not only running ones.
        pending = sum(1 for t in self._trials if t.status == Trial.PENDING)
        max_pending = self._max_pending()
        while pending < max_pending and self._create_trial():
            pending += 1
        while True:
            if not any(t.status == Trial.PENDING for t in self._trials):
                if not self._create_trial():
                    pass
            trial = self.scheduler.choose_trial_to_run(self)
            if trial is None:
                return
            key = _resource_key(trial.resources)
            # a trial in its own placement group gets a fresh actor inside that group
            idle = None
            if trial.placement is None:
                idle = next((i for i, (k, _) in enumerate(self._idle) if k == key), None)
            if idle is None:
                used = self._used()
                while not self._fits(trial.resources, used) and self._idle:
                    # its cleanup(), then its last handle goes: the actor ends
                    self._clean_up([self._idle.pop(0)[1]])
                    used = self._used()
                if not self._fits(trial.resources, used):
                    return
                actor = None
            else:
                actor = self._idle.pop(idle)[1]
            self._start_trial(trial, actor)

    def _create_trial(self) -> bool:
        if self.search_alg.is_finished():
            return False
        index = len(self._trials)
        trial_id = f"{self._exp_prefix}_{index:05d}"
        suggestion = self.search_alg.next_trial(trial_id)
        if suggestion is None or suggestion == FINISHED:
            return False
        config, resolved = suggestion
        from .search.variant_generator import format_vars

        tag = f"{index}_{format_vars(resolved)}" if resolved else str(index)
        resources, placement = trial_resources(self.trainable, config, self.default_resources)
        trial = Trial(self.name, trial_id, config, tag, resources, index)
        trial.placement = placement
        trial.evaluated_params = {"/".join(str(p) for p in k): v for k, v in resolved.items()}
        if self.tune_config.trial_name_creator:
            trial.custom_trial_name = str(self.tune_config.trial_name_creator(trial))
        if self.tune_config.trial_dirname_creator:
            dirname = str(self.tune_config.trial_dirname_creator(trial))
        else:
            stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
            dirname = f"{self.name}_{trial_id}_{tag}_{stamp}"[:140]
        trial.relative_logdir = dirname
        trial.local_path = os.path.join(self.exp_dir, dirname)
        storage.write_trial_params(trial.local_path, config)
        self._trials.append(trial)
        self.scheduler.on_trial_add(self, trial)
        # No save here: a trial that never reported restarts from scratch either way, and the
        # loop saves every _SAVE_EVERY_S (finishes and checkpoints save at once).
        return True

    def _new_actor(self, trial: Trial) -> Any:
        if self._actor_cls is None:
            self._actor_cls = rayground.remote(actor_class(self.trainable, self.name))
        if trial.placement is not None:
            return self._new_actor_in_group(trial)
        res = dict(trial.resources)
        options: dict[str, Any] = {
            "num_cpus": res.pop("CPU", 0.0),
            "num_gpus": res.pop("GPU", 0.0),
        }
        if res:
            options["resources"] = res
        return self._actor_cls.options(**options).remote(self.trainable)

    def _new_actor_in_group(self, trial: Trial) -> Any:
        """The trial's actor in bundle 0 of a new placement group made from its factory,
        capturing the tasks and actors it starts (they run in the other bundles), as Ray
        Tune places a trial."""
        group = trial.placement.to_placement_group()
        self._groups[trial.trial_id] = group
        res = normalize_resources(trial.placement.head_resources() or {"CPU": 0})
        options: dict[str, Any] = {
            "num_cpus": res.pop("CPU", 0.0),
            "num_gpus": res.pop("GPU", 0.0),
            "scheduling_strategy": PlacementGroupSchedulingStrategy(
                group, placement_group_bundle_index=0, placement_group_capture_child_tasks=True
            ),
        }
        if res:
            options["resources"] = res
        return self._actor_cls.options(**options).remote(self.trainable)

    def _remove_group(self, trial_id: str) -> None:
        group = self._groups.pop(trial_id, None)
        if group is not None:
            try:
                remove_placement_group(group)
            except Exception:  # the cluster is going away already
                pass

    def _start_trial(self, trial: Trial, actor: Any) -> None:
        if actor is None:
            actor = self._new_actor(trial)
        self._actors[trial.trial_id] = actor
        start_iteration, start_time, restore = 0, 0.0, trial.restore_path
        if restore is None and trial.checkpoints:
            restore = trial.checkpoints[-1][0]
        if restore:
            found = self._result_of_checkpoint(restore)
            start_iteration = int(found.get("training_iteration", 0))
            start_time = float(found.get("time_total_s", 0.0))
        elif trial.status == Trial.PAUSED and trial.last_result:
            start_iteration = int(trial.last_result.get("training_iteration", 0))
        info = {
            "trial_id": trial.trial_id,
            "trial_name": str(trial),
            "trial_dir": trial.local_path,
            "experiment_name": self.experiment_name,
            "resources": trial.resources,
            "placement": trial.placement or resource_dict_to_pg_factory(trial.resources),
            "start_iteration": start_iteration,
            "start_time_total": start_time,
            "checkpoint_index": self._next_checkpoint_index(trial),
        }
        trial.status = Trial.RUNNING
        trial.restore_path = None
        actor.start.remote(info, trial.config, restore)
        self._futures[actor.next.remote()] = trial
        for cb in self.callbacks:
            cb.on_trial_start(self._iteration, self._trials, trial)

    def _next_checkpoint_index(self, trial: Trial) -> int:
        names = [os.path.basename(p) for p, _ in trial.checkpoints]
        numbers = [int(n.rsplit("_", 1)[-1]) for n in names if n.rsplit("_", 1)[-1].isdigit()]
        try:
            on_disk = [
                int(n.rsplit("_", 1)[-1])
                for n in os.listdir(trial.local_path)
                if n.startswith("checkpoint_") and n.rsplit("_", 1)[-1].isdigit()
            ]
        except OSError:
            on_disk = []
        return max(numbers + on_disk, default=-1) + 1

    def _result_of_checkpoint(self, path: str) -> dict[str, Any]:
        for trial in self._trials:
            for cp, result in trial.checkpoints:
                if cp == path:
                    return result
        return {}

    # ------------------------------------------------------------------ events
    def _on_event(self, trial: Trial, ref: Any) -> None:
        try:
            event = rayground.get(ref)
        except RayActorError as exc:
            self._actors.pop(trial.trial_id, None)
            self._on_error(
                trial,
                {
                    "kind": "error",
                    "error": None,
                    "error_type": type(exc).__name__,
                    "message": str(exc),
                    "traceback": str(exc),
                },
                actor_lost=True,
            )
            return
        kind = event["kind"]
        if kind == "result":
            self._on_result(trial, event)
        elif kind in ("done", "stopped"):
            if trial.last_result:
                trial.last_result["done"] = True
            self._finish(trial, Trial.TERMINATED, None, complete=True)
        else:
            self._on_error(trial, event)

    def _on_result(self, trial: Trial, event: dict[str, Any]) -> None:
        result = event["metrics"]
        result["config"] = trial.config
        result["experiment_tag"] = trial.experiment_tag
        self._validate_metrics(result)
        trial.update_last_result(result)
        storage.append_result(trial.local_path, result)
        if event.get("checkpoint"):
            trial.checkpoints.append((event["checkpoint"], result))
            self._prune_checkpoints(trial)
        elif self._class_checkpoint_due(trial, result):
            if not self._save_class_checkpoint(trial, result):
                return
        for cb in self.callbacks:
            cb.on_trial_result(self._iteration, self._trials, trial, result)
        self.search_alg.on_trial_result(trial.trial_id, result)

        reason = self._stop_criteria_reason(trial, result)
        if reason:
            self._finish(trial, Trial.TERMINATED, reason, complete=True)
            return
        if result.get("done"):
            self._finish(trial, Trial.TERMINATED, None, complete=True)
            return
        decision = self.scheduler.on_trial_result(self, trial, result)
        if trial.status != Trial.RUNNING:  # the scheduler (PBT) already acted on the trial
            return
        if decision == TrialScheduler.STOP:
            why = self.scheduler.stop_reason(trial) or f"stopped by {type(self.scheduler).__name__}"
            self._finish(trial, Trial.TERMINATED, why, complete=True)
        elif decision == TrialScheduler.PAUSE:
            self.pause_trial(trial)
        else:
            self._futures[self._actors[trial.trial_id].next.remote()] = trial
        if event.get("checkpoint"):
            self.save_state()

    def _validate_metrics(self, result: dict[str, Any]) -> None:
        if os.environ.get("TUNE_DISABLE_STRICT_METRIC_CHECKING", "0") == "1":
            return
        if not [k for k in result if k not in AUTO_KEYS]:
            return
        checks = [
            (self.metric, "tune.TuneConfig()"),
            (self.scheduler.metric, type(self.scheduler).__name__),
        ]
        for metric, location in checks:
            if metric and metric not in result:
                reported = sorted(k for k in result if k not in AUTO_KEYS)
                raise TuneError(
                    f"Trial returned a result which did not include the specified metric(s) "
                    f"`{metric}` that `{location}` expects. Make sure your calls to "
                    f"`tune.report()` include the metric, or set the "
                    f"TUNE_DISABLE_STRICT_METRIC_CHECKING environment variable to 1. The "
                    f"trial reported: {reported}."
                )

    def _stop_criteria_reason(self, trial: Trial, result: dict[str, Any]) -> str | None:
        if self.stopper is None:
            return None
        if isinstance(self.stopper, DictStopper):
            return self.stopper.reason(result)
        if self.stopper(trial.trial_id, result):
            return "stopped by the stop criteria"
        if self.stopper.stop_all():
            self._stop_all = True
        return None

    def _class_checkpoint_due(self, trial: Trial, result: dict[str, Any]) -> bool:
        freq = self.run_config.checkpoint_config.checkpoint_frequency
        return bool(
            is_class_trainable(self.trainable)
            and freq
            and result.get("training_iteration", 0) % freq == 0
        )

    def _save_class_checkpoint(self, trial: Trial, result: dict[str, Any]) -> bool:
        """Checkpoint a class Trainable's trial; False when that failed (save_checkpoint()
        raised, say one it does not define): the trial has then failed, as on Ray, and is
        retried or recorded as an error; the experiment goes on."""
        actor = self._actors.get(trial.trial_id)
        if actor is None:
            return True
        try:
            path = rayground.get(actor.save.remote())
        except Exception as exc:
            self._drop_futures(trial)
            self._on_error(trial, _error_event(exc), actor_lost=isinstance(exc, RayActorError))
            return False
        if path:
            trial.checkpoints.append((path, dict(result)))
            self._prune_checkpoints(trial)
        return True

    def _prune_checkpoints(self, trial: Trial) -> None:
        cfg = self.run_config.checkpoint_config
        keep = cfg.num_to_keep
        if not keep or len(trial.checkpoints) <= keep:
            return
        import shutil

        latest = trial.checkpoints[-1]
        if cfg.checkpoint_score_attribute:
            attr = cfg.checkpoint_score_attribute
            sign = 1 if cfg.checkpoint_score_order == "max" else -1
            ranked = sorted(
                trial.checkpoints,
                key=lambda item: sign * float(item[1].get(attr, float("-inf"))),
                reverse=True,
            )
            kept = ranked[:keep]
        else:
            kept = trial.checkpoints[-keep:]
        if latest not in kept:  # the newest is always kept: a retry resumes from it
            kept = [*kept[: keep - 1], latest] if keep > 1 else [latest]
        for path, _ in trial.checkpoints:
            if all(path != k for k, _ in kept):
                shutil.rmtree(path, ignore_errors=True)
        trial.checkpoints = [c for c in trial.checkpoints if any(c[0] == k for k, _ in kept)]

    def _on_error(self, trial: Trial, event: dict[str, Any], actor_lost: bool = False) -> None:
        trial.num_failures += 1
        max_failures = self.run_config.failure_config.max_failures
        self._release_actor(trial, reusable=not actor_lost)
        if max_failures == -1 or trial.num_failures <= max_failures:
            trial.status = Trial.PENDING
            trial.restore_path = trial.checkpoints[-1][0] if trial.checkpoints else None
            self.save_state()
            return
        trial.status = Trial.ERROR
        trial.error_msg = f"{event.get('error_type')}: {event.get('message')}"
        trial.error_file = storage.write_error(trial.local_path, event)
        trial.error = event.get("error")  # type: ignore[attr-defined]
        self.scheduler.on_trial_error(self, trial)
        self.search_alg.on_trial_complete(trial.trial_id, None, True)
        for cb in self.callbacks:
            cb.on_trial_error(self._iteration, self._trials, trial)
        self.save_state()
        if self.run_config.failure_config.fail_fast:
            raise TuneError(f"Trial {trial} failed (fail_fast): {trial.error_msg}")

    def _finish(self, trial: Trial, status: str, reason: str | None, complete: bool) -> None:
        if (
            is_class_trainable(self.trainable)
            and self.run_config.checkpoint_config.checkpoint_at_end
            and trial.trial_id in self._actors
            and not self._save_class_checkpoint(trial, dict(trial.last_result))
        ):
            return
        trial.stop_reason = reason
        trial.status = status
        self._release_actor(trial, reusable=True)
        if complete:
            self.scheduler.on_trial_complete(self, trial, trial.last_result)
            self.search_alg.on_trial_complete(trial.trial_id, trial.last_result, False)
            for cb in self.callbacks:
                cb.on_trial_complete(self._iteration, self._trials, trial)
        self.save_state()

    # ------------------------------------------------------------------ pausing (PBT, HyperBand)
    def pause_trial(self, trial: Trial) -> None:
        actor = self._actors.get(trial.trial_id)
        if actor is not None and trial.status == Trial.RUNNING:
            path = rayground.get(actor.save.remote())
            if path:
                trial.checkpoints.append((path, dict(trial.last_result)))
                trial.restore_path = path
        trial.status = Trial.PAUSED
        self._drop_futures(trial)
        self._release_actor(trial, reusable=True)
        self.save_state()

    def save_trial(self, trial: Trial) -> str | None:
        """A checkpoint of a running trial now (PBT's donor); its path."""
        actor = self._actors.get(trial.trial_id)
        if actor is None:
            return trial.checkpoints[-1][0] if trial.checkpoints else None
        path = rayground.get(actor.save.remote())
        if path and all(path != p for p, _ in trial.checkpoints):
            trial.checkpoints.append((path, dict(trial.last_result)))
        return path

    def exploit_trial(
        self, trial: Trial, config: dict[str, Any], checkpoint: str, why: str
    ) -> None:
        """Restart `trial` from another trial's checkpoint with a new config (PBT)."""
        self._drop_futures(trial)
        self._release_actor(trial, reusable=True)
        trial.config = config
        trial.restore_path = checkpoint
        trial.status = Trial.PENDING
        trial.exploits = [*getattr(trial, "exploits", []), why]  # type: ignore[attr-defined]
        storage.write_trial_params(trial.local_path, config)
        self.save_state()

    def stop_trial(self, trial: Trial, reason: str | None = None) -> None:
        self._drop_futures(trial)
        self._finish(trial, Trial.TERMINATED, reason, complete=True)

    def _drop_futures(self, trial: Trial) -> None:
        for ref, owner in list(self._futures.items()):
            if owner is trial:
                del self._futures[ref]

    # ------------------------------------------------------------------ actors
    def _release_actor(self, trial: Trial, reusable: bool) -> None:
        actor = self._actors.pop(trial.trial_id, None)
        if actor is None:
            return
        reuse = self.tune_config.reuse_actors
        if reuse is None:
            reuse = not is_class_trainable(self.trainable)
        keep = trial.trial_id not in self._groups and reusable and bool(reuse) and self._work_left()
        try:
            # an actor that will not be reused runs its Trainable's cleanup() in this call
            ok = bool(rayground.get(actor.stop.remote(not keep), timeout=_STOP_TIMEOUT_S))
        except Exception:
            ok = False
        if trial.trial_id in self._groups:
            # the group goes, and with it the actor (its calls are done: it stopped)
            self._remove_group(trial.trial_id)
        elif keep and ok:
            self._idle.append((_resource_key(trial.resources), actor))
        elif not ok:  # its trainable did not unwind (or the actor is gone): end the process
            rayground.kill(actor)
        # else: dropping the last handle ends the actor once its calls are done, as Ray Tune
        # ends a trial's actor: the state API shows every call FINISHED, none FAILED.

    def _clean_up(self, actors: list[Any]) -> None:
        """Idle actors go: a Trainable's cleanup() runs first (once per actor, however many
        trials it served, as on Ray), awaited so that it has run when fit() returns; then
        their last handles are dropped. One that does not answer is killed."""
        if not actors or not is_class_trainable(self.trainable):
            return
        try:
            rayground.get([a.cleanup.remote() for a in actors], timeout=_STOP_TIMEOUT_S)
        except Exception:  # gone already, or stuck in its cleanup(): end the process
            for actor in actors:
                rayground.kill(actor)

    def _work_left(self) -> bool:
        return not self.search_alg.is_finished() or any(
            t.status in (Trial.PENDING, Trial.PAUSED) for t in self._trials
        )

    def _stop_everything(self, reason: str) -> None:
        for trial in list(self._trials):
            if trial.status == Trial.RUNNING:
                self._drop_futures(trial)
                self._finish(trial, Trial.TERMINATED, reason, complete=True)

    def _release_all(self) -> None:
        self._futures.clear()
        for trial_id, actor in list(self._actors.items()):
            rayground.kill(actor)
            del self._actors[trial_id]
        for trial_id in list(self._groups):
            self._remove_group(trial_id)
        self._clean_up([actor for _, actor in self._idle])
        self._idle.clear()  # stopped already: their last handles go, and so do they

    # ------------------------------------------------------------------ persistence
    def save_state(self) -> None:
        self._last_save = time.time()
        state = {
            "trials": self._trials,
            "search_alg": self.search_alg,
            "scheduler": self.scheduler,
            "exp_prefix": self._exp_prefix,
            "experiment_name": self.experiment_name,
        }
        try:
            data = cloudpickle.dumps(state)
        except Exception:
            # A searcher or scheduler that cannot be pickled: keep the trials restorable.
            state["search_alg"] = state["scheduler"] = None
            data = cloudpickle.dumps(state)
        storage.atomic_write(os.path.join(self.exp_dir, storage.STATE_PICKLE), data)
        summary = {
            "experiment_name": self.experiment_name,
            "timestamp": time.time(),
            "trials": [
                {
                    "trial_id": t.trial_id,
                    "status": t.status,
                    "path": t.local_path,
                    "last_result": {k: v for k, v in t.last_result.items() if k != "config"},
                    "stop_reason": t.stop_reason,
                    "error": t.error_msg,
                }
                for t in self._trials
            ],
        }
        storage.atomic_write(self._state_json, storage.dumps(summary).encode())

    def restore_state(self, state: dict[str, Any]) -> None:
        self._exp_prefix = state["exp_prefix"]


def _resource_key(resources: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((k, float(v)) for k, v in resources.items() if v))
