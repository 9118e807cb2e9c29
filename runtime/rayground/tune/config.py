"""The experiment's settings, with Ray Tune's names and defaults: `TuneConfig` (what to search,
how to schedule), `RunConfig` (where results go, when to stop), `CheckpointConfig`,
`FailureConfig`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MODES = ("min", "max")


def check_mode(mode: Any, where: str) -> None:
    if mode is not None and mode not in MODES:
        raise ValueError(
            f"The `mode` parameter passed to {where} must be one of ['min', 'max'], got "
            f"{mode!r}: use mode='min' to minimise the metric (a loss) or mode='max' to "
            "maximise it (an accuracy)."
        )


def default_storage_path() -> str:
    """Where results go without `storage_path`: Ray's default, `~/ray_results`."""
    return os.path.expanduser("~/ray_results")


@dataclass
class TuneConfig:
    mode: str | None = None
    metric: str | None = None
    search_alg: Any = None
    scheduler: Any = None
    num_samples: int = 1
    max_concurrent_trials: int | None = None
    time_budget_s: float | None = None
    reuse_actors: bool | None = None
    trial_name_creator: Callable[[Any], str] | None = None
    trial_dirname_creator: Callable[[Any], str] | None = None
    search_space: Any = None

    def __post_init__(self) -> None:
        # `mode` is checked when the experiment starts, as Ray does (ValueError from fit()).
        if not isinstance(self.num_samples, int) or (
            self.num_samples < 1 and self.num_samples != -1
        ):
            raise ValueError(
                f"TuneConfig(num_samples=...) must be a positive int (or -1 for no limit), "
                f"got {self.num_samples!r}."
            )


@dataclass
class CheckpointConfig:
    num_to_keep: int | None = None
    checkpoint_score_attribute: str | None = None
    checkpoint_score_order: str = "max"
    checkpoint_frequency: int = 0
    checkpoint_at_end: bool | None = None

    def __post_init__(self) -> None:
        if self.num_to_keep is not None and self.num_to_keep <= 0:
            raise ValueError(
                f"CheckpointConfig(num_to_keep={self.num_to_keep}) must be None (keep all) or "
                "at least 1."
            )
        check_mode(self.checkpoint_score_order, "CheckpointConfig(checkpoint_score_order)")


@dataclass
class FailureConfig:
    max_failures: int = 0
    fail_fast: bool | str = False


@dataclass
class RunConfig:
    name: str | None = None
    storage_path: str | None = None
    storage_filesystem: Any = None
    stop: Any = None
    callbacks: list[Any] | None = None
    checkpoint_config: CheckpointConfig | None = None
    failure_config: FailureConfig | None = None
    sync_config: Any = None
    verbose: int | None = None
    progress_reporter: Any = None
    log_to_file: Any = False
    worker_runtime_env: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.checkpoint_config is None:
            self.checkpoint_config = CheckpointConfig()
        if self.failure_config is None:
            self.failure_config = FailureConfig()


@dataclass
class ResumeConfig:
    unfinished: str = "resume"
    errored: str = "skip"
