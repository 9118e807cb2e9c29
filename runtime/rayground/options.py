"""The options of @remote, .options() and method(): names, checks and resource requests."""

from __future__ import annotations

from typing import Any

_COMMON = {
    "num_cpus",
    "num_gpus",
    "resources",
    "memory",
    "name",
    "runtime_env",
    "scheduling_strategy",
    "accelerator_type",
    "label_selector",
    "_metadata",
    "placement_group",
    "placement_group_bundle_index",
    "placement_group_capture_child_tasks",
    "enable_task_events",
}
TASK_OPTIONS = _COMMON | {"num_returns", "max_retries", "retry_exceptions", "max_calls"}
ACTOR_OPTIONS = _COMMON | {
    "namespace",
    "lifetime",
    "get_if_exists",
    "max_restarts",
    "max_task_retries",
    "max_concurrency",
    "max_pending_calls",
    "concurrency_groups",
    "allow_out_of_order_execution",
}
METHOD_OPTIONS = {
    "num_returns",
    "name",
    "concurrency_group",
    "max_task_retries",
    "retry_exceptions",
}


def validate_options(options: dict[str, Any], allowed: set[str], what: str) -> dict[str, Any]:
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(
            f"Invalid option keyword(s) {sorted(unknown)} for {what}s. Valid ones are: "
            f"{', '.join(sorted(o for o in allowed if not o.startswith('_')))}."
        )
    for key in ("num_cpus", "num_gpus", "memory"):
        value = options.get(key)
        if value is not None and (not isinstance(value, int | float) or value < 0):
            raise ValueError(f"{key} must be a number >= 0, got {value!r}")
    num_returns = options.get("num_returns")
    if num_returns is not None and num_returns not in ("dynamic", "streaming"):
        if not isinstance(num_returns, int) or num_returns < 0:
            raise ValueError(f"num_returns must be an int >= 0, got {num_returns!r}")
    custom = options.get("resources")
    if custom is not None:
        if not isinstance(custom, dict):
            raise TypeError(f"resources must be a dict such as {{'widget': 1}}, got {custom!r}")
        for key in custom:
            if key in ("CPU", "GPU"):
                raise ValueError(f"Use num_cpus/num_gpus instead of resources={{{key!r}: ...}}.")
    lifetime = options.get("lifetime")
    if lifetime not in (None, "detached", "non_detached"):
        raise ValueError(f"lifetime must be 'detached' or None, got {lifetime!r}")
    for key in ("max_retries", "max_restarts", "max_task_retries"):
        value = options.get(key)
        if value is not None and (not isinstance(value, int) or value < -1):
            raise ValueError(f"{key} must be an int >= -1 (-1 means forever), got {value!r}")
    concurrency = options.get("max_concurrency")
    if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
        raise ValueError(f"max_concurrency must be an int >= 1, got {concurrency!r}")
    return dict(options)


def resources_from_options(options: dict[str, Any], default_cpus: float) -> dict[str, float]:
    request: dict[str, float] = {}
    cpus = options.get("num_cpus")
    request["CPU"] = float(default_cpus if cpus is None else cpus)
    if options.get("num_gpus"):
        request["GPU"] = float(options["num_gpus"])
    if options.get("memory"):
        request["memory"] = float(options["memory"])
    for key, value in (options.get("resources") or {}).items():
        request[key] = float(value)
    return {k: v for k, v in request.items() if v}
