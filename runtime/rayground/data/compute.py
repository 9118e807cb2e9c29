"""How a map operator runs: as tasks, or on a pool of actors (`compute=` and `concurrency=`)."""

from __future__ import annotations

import inspect
from typing import Any

from .plan import ActorPoolStrategy


def _fn_name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def compute_strategy(
    method: str, fn: Any, is_class: bool, compute: Any, concurrency: Any
) -> ActorPoolStrategy | None:
    if isinstance(compute, str):
        if compute == "tasks":
            compute = None
        elif compute == "actors":
            compute = ActorPoolStrategy()
        else:
            raise ValueError(
                f"compute must be 'tasks', 'actors' or an ActorPoolStrategy, got {compute!r}"
            )
    if compute is not None and not isinstance(compute, ActorPoolStrategy):
        raise ValueError(f"compute must be an ActorPoolStrategy, got {compute!r}")
    if concurrency is not None:
        if compute is not None:
            raise ValueError(f"{method}(): pass concurrency or compute, not both.")
        if isinstance(concurrency, int) and not isinstance(concurrency, bool):
            compute = ActorPoolStrategy(size=concurrency) if is_class else None
        elif isinstance(concurrency, tuple) and len(concurrency) in (2, 3):
            if not is_class:
                raise ValueError(
                    f"{method}(): a (min, max) concurrency range is only for callable classes."
                )
            compute = ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[-1])
        else:
            raise ValueError(
                f"concurrency must be an int or a (min, max) tuple, got {concurrency!r}"
            )
    if is_class:
        defines_call = any("__call__" in vars(k) for k in fn.__mro__ if k is not object)
        if not defines_call or inspect.isabstract(fn):
            raise ValueError(f"{fn.__name__} must define __call__ to be used with {method}()")
        return compute or ActorPoolStrategy(min_size=1)
    if compute is not None:
        raise ValueError(
            f"``compute`` is specified as the actor compute strategy, but ``fn`` of {method}() "
            f"is not a callable class ({_fn_name(fn)}). Pass a callable class to use actors, or "
            "drop compute to run the function as tasks."
        )
    return None
