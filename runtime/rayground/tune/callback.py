"""`Callback`: hooks the controller calls as trials start, report, finish and fail (as Ray's
`ray.tune.Callback`). The live trials widget is one."""

from __future__ import annotations

from typing import Any


class Callback:
    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        pass

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        pass

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        pass

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        pass

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        pass

    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        pass

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        pass
