"""How a map operator runs: as tasks (a `TaskPoolStrategy`, optionally capped) or on a pool of
actors (an `ActorPoolStrategy`), from `compute=` and the deprecated `concurrency=`, with Ray's
rules: a callable class runs on actors, a function on tasks; `compute` wins over `concurrency`.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from typing import Any

from .plan import ActorPoolStrategy, TaskPoolStrategy

logger = logging.getLogger(__name__)

# Remote options Ray 2.60 takes as named parameters of map/map_batches/...: passing them in
# **ray_remote_args is not the deprecated form.
_NAMED_REMOTE_ARGS = {
    "num_cpus",
    "num_gpus",
    "memory",
    "label_selector",
    "fallback_strategy",
    "max_calls",
    "resources",
    "accelerator_type",
    "runtime_env",
    "ray_remote_args_fn",
}


# Every option Ray's tasks take (Ray 2.60 lists these when one is misspelt). The last ones tune
# Ray's multi-node scheduling or generator internals and mean nothing on rayground's one node:
# accepted, as Ray code passes them, and not sent on.
RAY_TASK_OPTIONS = (
    "label_selector",
    "fallback_strategy",
    "accelerator_type",
    "memory",
    "name",
    "num_cpus",
    "num_gpus",
    "object_store_memory",
    "placement_group",
    "placement_group_bundle_index",
    "placement_group_capture_child_tasks",
    "resources",
    "runtime_env",
    "scheduling_strategy",
    "enable_task_events",
    "_labels",
    "max_calls",
    "max_retries",
    "num_returns",
    "retry_exceptions",
    "_generator_backpressure_num_objects",
    "_num_objects_per_yield",
)
_NOT_SENT = {
    "fallback_strategy",
    "object_store_memory",
    "_labels",
    "_generator_backpressure_num_objects",
    "_num_objects_per_yield",
}


def named_remote_args(
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    memory: float | None = None,
    label_selector: dict[str, str] | None = None,
    fallback_strategy: list[dict[str, Any]] | None = None,
    max_calls: int | None = None,
    resources: dict[str, float] | None = None,
    accelerator_type: str | None = None,
    runtime_env: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The remote options Ray 2.60 names as parameters, by name (None: not given)."""
    return {
        "num_cpus": num_cpus,
        "num_gpus": num_gpus,
        "memory": memory,
        "label_selector": label_selector,
        "fallback_strategy": fallback_strategy,
        "max_calls": max_calls,
        "resources": resources,
        "accelerator_type": accelerator_type,
        "runtime_env": runtime_env,
    }


def remote_args(
    named: dict[str, Any], extra: dict[str, Any] | None, caller: str = "remote functions"
) -> dict[str, Any]:
    """The remote options of an operator, from its named parameters (None: not given) and
    `ray_remote_args`; a misspelt name fails now, with Ray's message and the likely fix,
    instead of when the first task is submitted."""
    import difflib

    merged = {k: v for k, v in named.items() if v is not None}
    merged.update(extra or {})
    for key, value in merged.items():
        if key not in RAY_TASK_OPTIONS:
            close = difflib.get_close_matches(key, RAY_TASK_OPTIONS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Invalid option keyword {key} for {caller}. Valid ones are "
                f"{list(RAY_TASK_OPTIONS)}.{hint}"
            )
        if key in ("num_cpus", "num_gpus", "memory") and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            raise ValueError(f"The quantity of resource {key} cannot be negative: got {value!r}")
    return {k: v for k, v in merged.items() if k not in _NOT_SENT}


def warn_on_ray_remote_args(ray_remote_args: dict[str, Any], stacklevel: int = 3) -> None:
    """Ray 2.60 deprecates remote options passed as extra keyword arguments; so do we."""
    if set(ray_remote_args) - _NAMED_REMOTE_ARGS:
        warnings.warn(
            "`ray_remote_args` is deprecated and will be removed in Ray 2.64. "
            "Use the named remote parameters instead.",
            DeprecationWarning,
            stacklevel=stacklevel,
        )


def fn_name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _from_concurrency(method: str, fn: Any, is_class: bool, concurrency: Any) -> Any:
    logger.warning(
        "The argument ``concurrency`` is deprecated in Ray 2.51. Please specify argument "
        "``compute`` instead: compute=ray.data.ActorPoolStrategy(size=n) for a callable class, "
        "compute=ray.data.TaskPoolStrategy(size=n) for a function."
    )
    if isinstance(concurrency, tuple):
        if len(concurrency) not in (2, 3) or not all(
            isinstance(c, int) and not isinstance(c, bool) for c in concurrency
        ):
            raise ValueError(
                "``concurrency`` is expected to be set as a tuple of integers, but got: "
                f"{concurrency}."
            )
        if not is_class:
            raise ValueError(
                "``concurrency`` is set as a tuple of integers, but ``fn`` is not a callable "
                f"class: {fn_name(fn)}. Use ``concurrency=n`` to control maximum number of "
                "workers to use."
            )
        initial = concurrency[2] if len(concurrency) == 3 else None
        return ActorPoolStrategy(
            min_size=concurrency[0], max_size=concurrency[1], initial_size=initial
        )
    if isinstance(concurrency, int) and not isinstance(concurrency, bool):
        return ActorPoolStrategy(size=concurrency) if is_class else TaskPoolStrategy(concurrency)
    raise ValueError(
        "``concurrency`` is expected to be set as an integer or a tuple of integers, but got: "
        f"{concurrency}."
    )


def compute_strategy(
    method: str, fn: Any, is_class: bool, compute: Any, concurrency: Any
) -> ActorPoolStrategy | TaskPoolStrategy | None:
    """The strategy a map operator runs with; None: uncapped tasks."""
    if isinstance(compute, str):
        if compute not in ("tasks", "actors"):
            raise ValueError(
                f"compute must be 'tasks', 'actors', a TaskPoolStrategy or an "
                f"ActorPoolStrategy, got {compute!r}"
            )
        compute = TaskPoolStrategy() if compute == "tasks" else ActorPoolStrategy()
    if compute is not None and not isinstance(compute, ActorPoolStrategy | TaskPoolStrategy):
        raise ValueError(
            f"compute must be a TaskPoolStrategy or an ActorPoolStrategy, got {compute!r}"
        )
    if compute is None and concurrency is not None:
        compute = _from_concurrency(method, fn, is_class, concurrency)
    if is_class:
        defines_call = any("__call__" in vars(k) for k in fn.__mro__ if k is not object)
        if not defines_call or inspect.isabstract(fn):
            raise ValueError(f"{fn.__name__} must define __call__ to be used with {method}()")
        if isinstance(compute, TaskPoolStrategy):
            raise ValueError(
                f"You specified the callable class {fn.__name__} as your UDF with the compute "
                f"{compute}, but Ray Data can't schedule callable classes with the task pool "
                "strategy. To fix this error, pass an ActorPoolStrategy to compute or None to "
                "use the default compute strategy."
            )
        return compute or ActorPoolStrategy(min_size=1)
    if isinstance(compute, ActorPoolStrategy):
        raise ValueError(
            f"You specified the function {fn_name(fn)} as your UDF with the compute "
            f"{compute}, but Ray Data can't schedule regular functions with the actor pool "
            "strategy. To fix this error, pass a TaskPoolStrategy to compute or None to use "
            "the default compute strategy (or make it a callable class to run on actors)."
        )
    if isinstance(compute, TaskPoolStrategy) and compute.size is None:
        return None
    return compute
