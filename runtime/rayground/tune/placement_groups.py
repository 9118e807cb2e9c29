"""`tune.PlacementGroupFactory`: a trial's resources as placement-group bundles, as in Ray.

    tune.with_resources(train, tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 2}]))

The first bundle is the trial's own actor; the others are reserved for the work the trial starts
(tasks and actors it creates run inside the group, as on Ray: the trial's actor captures its
child tasks). The trial starts only once every bundle fits; the group is removed when the trial
ends. An empty first bundle (`[{}, {"CPU": 2}]`) runs the trial's actor on no resources of its
own.
"""

from __future__ import annotations

import json
from typing import Any

from rayground.util import placement_group

_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


class PlacementGroupFactory:
    """Bundles (resource dicts) and a strategy, from which each trial's placement group is
    made (`to_placement_group()`)."""

    def __init__(
        self,
        bundles: list[dict[str, int | float]],
        strategy: str = "PACK",
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if not bundles:
            raise ValueError("Cannot initialize a ResourceRequest with zero bundles.")
        if not isinstance(bundles, list) or not all(isinstance(b, dict) for b in bundles):
            raise TypeError(
                "PlacementGroupFactory takes a list of bundles, each a dict of resources like "
                f"{{'CPU': 1}}, got {bundles!r}."
            )
        if strategy not in _STRATEGIES:
            raise ValueError(
                f"Invalid placement group strategy {strategy!r}: use one of {_STRATEGIES}."
            )
        # Ray drops zero amounts, and an empty head bundle (the trial's actor needs nothing).
        self._bundles = [{k: float(v) for k, v in b.items() if v != 0} for b in bundles]
        self._head_bundle_is_empty = not self._bundles[0]
        if self._head_bundle_is_empty:
            self._bundles.pop(0)
            if not self._bundles:
                raise ValueError(
                    "Cannot initialize a ResourceRequest with an empty head and zero worker "
                    "bundles."
                )
        self._strategy = strategy
        self._args = args
        self._kwargs = kwargs

    @property
    def head_bundle_is_empty(self) -> bool:
        return self._head_bundle_is_empty

    @property
    def head_cpus(self) -> float:
        return 0.0 if self._head_bundle_is_empty else self._bundles[0].get("CPU", 0.0)

    @property
    def bundles(self) -> list[dict[str, float]]:
        return [dict(b) for b in self._bundles]

    @property
    def strategy(self) -> str:
        return self._strategy

    @property
    def required_resources(self) -> dict[str, float]:
        """Every bundle's resources, summed."""
        total: dict[str, float] = {}
        for bundle in self._bundles:
            for key, value in bundle.items():
                total[key] = total.get(key, 0.0) + value
        return total

    def head_resources(self) -> dict[str, float]:
        """What the trial's own actor asks for (inside bundle 0)."""
        return {} if self._head_bundle_is_empty else dict(self._bundles[0])

    def to_placement_group(self) -> Any:
        return placement_group(self.bundles, self._strategy, *self._args, **self._kwargs)

    def _key(self) -> str:
        return json.dumps(
            [
                self._bundles,
                self._strategy,
                list(self._args),
                self._kwargs,
                self._head_bundle_is_empty,
            ],
            sort_keys=True,
            default=str,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementGroupFactory) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"PlacementGroupFactory(bundles={self._bundles}, strategy={self._strategy!r}, "
            f"head_bundle_is_empty={self._head_bundle_is_empty})"
        )


def resource_dict_to_pg_factory(spec: dict[str, Any] | None = None) -> PlacementGroupFactory:
    """A resources dict (`{"cpu": 1, "gpu": 0}`) as one bundle, as Ray's helper of that name."""
    spec = dict(spec or {"cpu": 1})
    cpus = spec.pop("cpu", spec.pop("CPU", 0.0))
    gpus = spec.pop("gpu", spec.pop("GPU", 0.0))
    memory = spec.pop("memory", 0.0)
    bundle = dict(spec.pop("custom_resources", {})) or spec
    bundle.update({"CPU": cpus, "GPU": gpus, "memory": memory})
    return PlacementGroupFactory([bundle])
