"""rayground.train: the `ray.train` names that Ray Tune code meets, behaving as Ray 2.60's.

rayground has no distributed Trainers. What is here is what a Tune user runs into:
`train.Checkpoint` (here the same class as `tune.Checkpoint`; Ray 2.60 has a separate Train
v2 class with the same constructors) and `train.report`,
`train.get_checkpoint`, `train.get_context`, which Ray 2.60 refuses inside a Tune trial with a
DeprecationWarning (raised) that points to the `tune` equivalents, and outside a training
function with a RuntimeError. So code that works here works on Ray, and the other way round.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..tune import session as _tune_session
from ..tune.checkpoint import Checkpoint

__all__ = ["Checkpoint", "get_checkpoint", "get_context", "report"]


def _tune_api_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _tune_session.current() is not None:
            raise DeprecationWarning(
                f"`ray.train.{fn.__name__}` is deprecated when running in a function passed "
                f"to Ray Tune. Please use the equivalent `ray.tune` API instead "
                f"(`tune.{fn.__name__}`). See this issue for more context: "
                "https://github.com/ray-project/ray/issues/49454"
            )
        raise RuntimeError(
            f"`{fn.__name__}` cannot be used outside of a Ray Train training function. You are "
            "calling this API from the driver or another non-training process. These "
            "utilities are only available within a function launched by `trainer.fit()` "
            f"(rayground has no Trainers: in a Tune trainable, use `tune.{fn.__name__}`)."
        )

    return wrapper


@_tune_api_only
def report(metrics: dict[str, Any], checkpoint: Checkpoint | None = None, **kwargs: Any) -> None:
    """Ray Train's report: in a Tune trainable, use `tune.report`."""


@_tune_api_only
def get_checkpoint() -> Checkpoint | None:
    """Ray Train's get_checkpoint: in a Tune trainable, use `tune.get_checkpoint`."""


@_tune_api_only
def get_context() -> Any:
    """Ray Train's get_context: in a Tune trainable, use `tune.get_context`."""
