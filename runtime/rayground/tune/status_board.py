"""Status hook: the experiment's trials on the cluster's library status board
(`rayground.util.library_status`), so the lab panel and `%ray_status` show running experiments,
whichever process runs them. A `Callback` that `Tuner.fit()` always adds.

Entry fields: "title" (the experiment name), "state", "metric", "mode", "counts" ({status: n}),
"best" ({"trial", "value", "config"} or None), "trials": the newest MAX_TRIALS rows of
`live.trial_rows` (trial, status, config, iter, last, best, why)."""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any

from rayground.util.library_status import Publisher

from .callback import Callback
from .live import trial_rows

MAX_TRIALS = 200
_publisher = Publisher("tune")


def _plain(value: Any) -> Any:
    """A metric as JSON can carry it (NaN and infinities become None)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return str(value)


class StatusCallback(Callback):
    def __init__(self, experiment: str, metric: str | None, mode: str | None) -> None:
        self.experiment = experiment
        self.metric = metric
        self.mode = mode
        self.key = f"{experiment}@{os.getpid()}"

    def entry(self, trials: list[Any], state: str) -> dict[str, Any]:
        rows = trial_rows(trials, self.metric, self.mode)
        for row in rows:
            row["last"], row["best"] = _plain(row["last"]), _plain(row["best"])
        scored = [r for r in rows if isinstance(r["best"], (int, float))]
        best = None
        if scored and self.mode in ("min", "max"):
            pick = min if self.mode == "min" else max
            top = pick(scored, key=lambda r: r["best"])
            best = {"trial": top["trial"], "value": top["best"], "config": top["config"]}
        return {
            "title": self.experiment,
            "state": state,
            "metric": self.metric,
            "mode": self.mode,
            "counts": dict(Counter(r["status"] for r in rows)),
            "best": best,
            "trials": rows[-MAX_TRIALS:],
        }

    def _send(self, trials: list[Any], final: bool = False, state: str = "RUNNING") -> None:
        _publisher.publish(self.key, self.entry(trials, state), final=final)

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._send(trials)

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict, **info: Any
    ) -> None:
        self._send(trials)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._send(trials, final=True)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._send(trials, final=True)

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        failed = bool(trials) and all(t.status == "ERROR" for t in trials)
        self._send(trials, final=True, state="FAILED" if failed else "FINISHED")
