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


def placement_from_options(
    options: dict[str, Any], request: dict[str, float], what: str = "this task or actor"
) -> tuple[dict[str, float], dict[str, Any]]:
    """The resource request and the spec fields for `scheduling_strategy=` (and the deprecated
    `placement_group=`): work in a placement group asks for its bundle's resources instead
    (see _core/placement.py); a child of a task that captures its group runs in that group."""
    from ._core import context
    from ._core.placement import task_request
    from .util.placement_group import (
        PlacementGroup,
        PlacementGroupID,
        check_placement_group_index,
        deprecated_option_warning,
    )
    from .util.scheduling_strategies import (
        NodeAffinitySchedulingStrategy,
        PlacementGroupSchedulingStrategy,
    )

    strategy = options.get("scheduling_strategy")
    group = options.get("placement_group")
    if group is not None and group != "default":
        if strategy is not None:
            raise ValueError(
                "Use scheduling_strategy=PlacementGroupSchedulingStrategy(...) alone: it cannot "
                "be combined with the deprecated placement_group= option."
            )
        deprecated_option_warning()
        strategy = PlacementGroupSchedulingStrategy(
            group,
            options.get("placement_group_bundle_index", -1),
            options.get("placement_group_capture_child_tasks"),
        )
    if strategy is None:
        current = context.task_context().get("placement_group")
        if current and current.get("capture"):
            strategy = PlacementGroupSchedulingStrategy(
                PlacementGroup(PlacementGroupID(current["id"]), current.get("bundles")),
                -1,
                True,
            )
    if strategy is None or strategy == "DEFAULT":
        return request, {}
    if strategy == "SPREAD":
        return request, {"strategy": "SPREAD"}
    if isinstance(strategy, NodeAffinitySchedulingStrategy):
        if not isinstance(strategy.node_id, str) or not strategy.node_id:
            raise ValueError(
                f"NodeAffinitySchedulingStrategy needs a node id (a hex str from "
                f"ray.nodes() or get_runtime_context().get_node_id()), got {strategy.node_id!r}"
            )
        return request, {"node_affinity": [strategy.node_id, bool(strategy.soft)]}
    if isinstance(strategy, PlacementGroupSchedulingStrategy):
        pg = strategy.placement_group
        if pg is None or (isinstance(pg, PlacementGroup) and pg.is_empty()):
            return request, {}
        if not isinstance(pg, PlacementGroup):
            raise TypeError(
                f"PlacementGroupSchedulingStrategy needs a PlacementGroup (from "
                f"placement_group(...)), got {pg!r}"
            )
        index = strategy.placement_group_bundle_index
        check_placement_group_index(pg, index)
        bundles = pg.bundle_specs
        shown = {k: v for k, v in request.items() if v}
        if not any(
            all(b.get(k, 0.0) + 1e-9 >= v for k, v in shown.items())
            for b in (bundles if index == -1 else [bundles[index]])
        ):
            where = "any bundle" if index == -1 else f"bundle {index}"
            raise ValueError(
                f"Cannot schedule {options.get('name') or what} with the "
                f"placement group because the resource request {shown} cannot fit into "
                f"{where} of the placement group, {bundles}. Ask for less, or make the "
                "bundles bigger."
            )
        info = {
            "id": pg.id.hex(),
            "bundle_index": index,
            "capture": bool(strategy.placement_group_capture_child_tasks),
            "bundles": pg.bundle_specs,
        }
        return task_request(pg.id.hex(), index, request), {"placement_group": info}
    raise ValueError(
        f"Invalid scheduling_strategy {strategy!r}: use 'DEFAULT', 'SPREAD', "
        "PlacementGroupSchedulingStrategy(...) or NodeAffinitySchedulingStrategy(...)."
    )
