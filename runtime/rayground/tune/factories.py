"""`tune.create_scheduler("asha", ...)` and `tune.create_searcher("optuna", ...)`: build a
scheduler or search algorithm from its name, keeping only the keyword arguments it takes
(as Ray does, so one dict of options can serve several)."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

# name -> (module under rayground.tune, class); Ray's names
_SCHEDULERS = {
    "fifo": ("schedulers", "FIFOScheduler"),
    "async_hyperband": ("schedulers", "AsyncHyperBandScheduler"),
    "asynchyperband": ("schedulers", "AsyncHyperBandScheduler"),
    "median_stopping_rule": ("schedulers", "MedianStoppingRule"),
    "medianstopping": ("schedulers", "MedianStoppingRule"),
    "hyperband": ("schedulers", "HyperBandScheduler"),
    "hb_bohb": ("schedulers", "HyperBandForBOHB"),
    "pbt": ("schedulers", "PopulationBasedTraining"),
}
_RAY_ONLY_SCHEDULERS = ("pbt_replay", "pb2", "resource_changing")

_SEARCHERS = {
    "variant_generator": ("search", "BasicVariantGenerator"),
    "random": ("search", "BasicVariantGenerator"),
    "optuna": ("search.optuna", "OptunaSearch"),
    "hyperopt": ("search.hyperopt", "HyperOptSearch"),
}
_RAY_ONLY_SEARCHERS = ("ax", "bayesopt", "bohb", "nevergrad", "zoopt", "hebo")


def _build(
    kind: str,
    name: str,
    table: dict[str, tuple[str, str]],
    ray_only: tuple[str, ...],
    kwargs: dict[str, Any],
) -> Any:
    key = name.lower()
    if key in ray_only:
        raise ValueError(
            f"The {kind} {name!r} is one of Ray Tune's that rayground.tune does not provide; "
            f"available here: {list(table)}."
        )
    if key not in table:
        raise ValueError(
            f"The `{kind}` argument must be one of {list(table) + list(ray_only)}. Got: {name}"
        )
    module, cls_name = table[key]
    cls = getattr(importlib.import_module(f"{__package__}.{module}"), cls_name)
    accepted = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in kwargs.items() if k in accepted})


def create_scheduler(scheduler: str, **kwargs: Any) -> Any:
    return _build("scheduler", scheduler, _SCHEDULERS, _RAY_ONLY_SCHEDULERS, kwargs)


def create_searcher(search_alg: str, **kwargs: Any) -> Any:
    return _build("search_alg", search_alg, _SEARCHERS, _RAY_ONLY_SEARCHERS, kwargs)
