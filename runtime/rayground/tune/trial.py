"""`Trial`: the driver's record of one configuration being tried (status, results, checkpoint,
why it stopped). It is plain data, pickled into the experiment state for `Tuner.restore`."""

from __future__ import annotations

import math
from typing import Any

from .checkpoint import Checkpoint

# Ray's auto-filled result keys: not counted as "metrics the user reported".
AUTO_KEYS = frozenset(
    {
        "timestamp",
        "checkpoint_dir_name",
        "done",
        "training_iteration",
        "trial_id",
        "date",
        "time_this_iter_s",
        "time_total_s",
        "pid",
        "hostname",
        "node_ip",
        "time_since_restore",
        "iterations_since_restore",
        "config",
        "experiment_tag",
    }
)


class Trial:
    placement: Any = None  # (trials saved before placement groups lack the attribute)
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"

    def __init__(
        self,
        trainable_name: str,
        trial_id: str,
        config: dict[str, Any],
        experiment_tag: str,
        resources: dict[str, float],
        index: int,
    ) -> None:
        self.trainable_name = trainable_name
        self.trial_id = trial_id
        self.config = config
        self.evaluated_params: dict[str, Any] = {}
        self.experiment_tag = experiment_tag
        self.resources = resources
        self.index = index
        self.status = Trial.PENDING
        self.last_result: dict[str, Any] = {}
        self.metric_analysis: dict[str, dict[str, float]] = {}
        self.metric_n_steps: dict[str, dict[str, list[float]]] = {}
        self.num_failures = 0
        self.error_msg: str | None = None
        self.error_file: str | None = None
        self.stop_reason: str | None = None
        self.local_path: str = ""
        self.checkpoints: list[tuple[str, dict[str, Any]]] = []
        self.restore_path: str | None = None
        self.custom_trial_name: str | None = None
        self.relative_logdir: str = ""
        # a PlacementGroupFactory when the trainable asked for bundles (with_resources)
        self.placement: Any = None

    @property
    def path(self) -> str:
        return self.local_path

    @property
    def checkpoint(self) -> Checkpoint | None:
        if self.restore_path:
            return Checkpoint(self.restore_path)
        return Checkpoint(self.checkpoints[-1][0]) if self.checkpoints else None

    @property
    def error_message(self) -> str | None:
        return self.error_msg

    def is_finished(self) -> bool:
        return self.status in (Trial.TERMINATED, Trial.ERROR)

    def update_last_result(self, result: dict[str, Any]) -> None:
        self.last_result = result
        for key, value in result.items():
            if key in AUTO_KEYS or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            value = float(value)
            if key not in self.metric_analysis:
                self.metric_analysis[key] = {
                    "max": value,
                    "min": value,
                    "avg": value,
                    "last": value,
                }
                self.metric_n_steps[key] = {"5": [], "10": []}
            stats = self.metric_analysis[key]
            step = result.get("training_iteration") or 1
            stats["max"] = max(stats["max"], value)
            stats["min"] = min(stats["min"], value)
            stats["avg"] = value / step + (step - 1) / step * stats["avg"]
            stats["last"] = value
            for n in ("5", "10"):
                window = self.metric_n_steps[key][n]
                window.append(value)
                del window[: -int(n)]
                stats[f"last-{n}-avg"] = sum(window) / len(window)

    def best_metric(self, metric: str, mode: str, scope: str = "last") -> float | None:
        stats = self.metric_analysis.get(metric)
        if stats is None:
            return None
        if scope == "all":
            return stats[mode]
        value = stats.get(scope)
        return None if value is None or math.isnan(value) else value

    def __str__(self) -> str:
        return self.custom_trial_name or f"{self.trainable_name}_{self.trial_id}"

    def __repr__(self) -> str:
        return str(self)
