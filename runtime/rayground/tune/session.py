"""What a running trial's code reaches through `tune.report`, `tune.get_checkpoint` and
`tune.get_context`: the session of the trial running in this thread.

The session lives in a context variable set by the trial runner (`trial_runner.py`) on the thread
that runs the user's function or `Trainable`, so two trials in one process (or code outside any
trial) never see each other's session.
"""

from __future__ import annotations

import contextvars
import json
import os
import shutil
from typing import TYPE_CHECKING, Any

from .checkpoint import Checkpoint

if TYPE_CHECKING:
    from .trial_runner import TrialSession

_session: contextvars.ContextVar[TrialSession | None] = contextvars.ContextVar(
    "rayground_tune_session", default=None
)


class TrialStopped(BaseException):
    """Raised inside `tune.report` when the driver stopped the trial (scheduler, `stop`
    criteria, end of experiment), so the trainable's thread unwinds. A BaseException, so a
    user's `except Exception` does not swallow it."""


def current() -> TrialSession | None:
    return _session.get()


def _require(what: str) -> TrialSession:
    session = _session.get()
    if session is None:
        raise RuntimeError(
            f"tune.{what}() was called outside a Tune trial. Call it from the trainable "
            "function that you pass to tune.Tuner(...) or tune.run(...)."
        )
    return session


def report(
    metrics: dict[str, Any],
    *,
    checkpoint: Checkpoint | None = None,
    checkpoint_dir_name: str | None = None,
) -> None:
    """Report this iteration's metrics (and optionally a checkpoint) to Tune.

    Blocks until the driver has taken the previous result, and raises `TrialStopped` once the
    driver decides the trial should stop.
    """
    if not isinstance(metrics, dict):
        raise TypeError(
            f"tune.report expects a dict of metrics, got {type(metrics).__name__}: write "
            "tune.report({'loss': loss})."
        )
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        raise TypeError(
            "tune.report(checkpoint=...) expects a tune.Checkpoint, e.g. "
            f"Checkpoint.from_directory(path); got {type(checkpoint).__name__}."
        )
    _require("report").report(metrics, checkpoint, checkpoint_dir_name)


def get_checkpoint() -> Checkpoint | None:
    """The checkpoint to resume from (after a failure, a restore or a PBT exploit), or None."""
    session = _session.get()
    return session.checkpoint if session is not None else None


class TuneContext:
    """Where this trial runs (as `ray.tune.get_context()`)."""

    def __init__(self, info: dict[str, Any]) -> None:
        self._info = info

    def get_trial_id(self) -> str:
        return str(self._info["trial_id"])

    def get_trial_name(self) -> str:
        return str(self._info["trial_name"])

    def get_trial_dir(self) -> str:
        return str(self._info["trial_dir"])

    def get_experiment_name(self) -> str:
        return str(self._info["experiment_name"])

    def get_trial_resources(self) -> Any:
        """The trial's resources as a PlacementGroupFactory (one bundle when they were given as
        a dict), as Ray's."""
        return self._info.get("placement")

    def get_world_size(self) -> int:
        return 1

    def get_world_rank(self) -> int:
        return 0

    def get_local_rank(self) -> int:
        return 0


def get_context() -> TuneContext:
    return TuneContext(_require("get_context").info)


PROGRESS_FILE = ".tune_progress.json"


def persist_checkpoint(
    source: Checkpoint,
    trial_dir: str,
    index: int,
    dir_name: str | None = None,
    progress: dict[str, Any] | None = None,
) -> Checkpoint:
    """Copy a reported checkpoint under the trial's folder: the source is usually a temporary
    directory the trainable deletes right after `report` returns. `progress` (the iteration and
    time it was taken at) goes with it, so a trial restored from it, its own or another's
    (PBT), counts on from there."""
    target = os.path.join(trial_dir, dir_name or f"checkpoint_{index:06d}")
    if os.path.abspath(source.path) != os.path.abspath(target):
        shutil.copytree(source.path, target, dirs_exist_ok=True)
    os.chmod(target, 0o700)
    if progress is not None:
        with open(os.path.join(target, PROGRESS_FILE), "w") as f:
            json.dump(progress, f)
    return Checkpoint(target)


def checkpoint_progress(path: str) -> dict[str, Any]:
    try:
        with open(os.path.join(path, PROGRESS_FILE)) as f:
            return dict(json.load(f))
    except (OSError, ValueError):
        return {}
