"""What a trial runs: a function `fn(config)` that calls `tune.report`, or a `Trainable` class
(setup/step/save_checkpoint/load_checkpoint/reset_config), plus `with_parameters` and
`with_resources`, which wrap either kind."""

from __future__ import annotations

import copy
import functools
import inspect
from typing import Any

import rayground

from .placement_groups import PlacementGroupFactory


class Trainable:
    """Class API: Tune calls `setup(config)` once, then `step()` per iteration (return the
    metrics dict), `save_checkpoint(dir)` / `load_checkpoint(state)` to save and restore, and
    `reset_config(new_config)` to reuse the process for another trial."""

    def __init__(self, config: dict[str, Any] | None = None, **info: Any) -> None:
        self.config = dict(config or {})
        self._info = info
        self._iteration = 0
        # a deep copy, as on Ray: what setup() takes out of its config stays in self.config
        self.setup(copy.deepcopy(self.config))

    # --- for users to override
    def setup(self, config: dict[str, Any]) -> None:
        pass

    def step(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"{type(self).__name__} must define step(self) returning a dict of metrics."
        )

    def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any] | None:
        raise NotImplementedError(
            f"{type(self).__name__} must define save_checkpoint(self, checkpoint_dir) to be "
            "checkpointed (CheckpointConfig, PBT, failure retries)."
        )

    def load_checkpoint(self, checkpoint: Any) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} must define load_checkpoint(self, checkpoint) to be restored."
        )

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        return False

    def cleanup(self) -> None:
        pass

    # --- what a Trainable can read about itself
    @property
    def iteration(self) -> int:
        return self._iteration

    @property
    def training_iteration(self) -> int:
        return self._iteration

    @property
    def trial_id(self) -> str:
        return str(self._info.get("trial_id", "default"))

    @property
    def trial_name(self) -> str:
        return str(self._info.get("trial_name", "default"))

    @property
    def logdir(self) -> str:
        return str(self._info.get("trial_dir", ""))

    @property
    def trial_resources(self) -> PlacementGroupFactory | None:
        return self._info.get("placement")


def is_class_trainable(trainable: Any) -> bool:
    return isinstance(trainable, type) and issubclass(trainable, Trainable)


def trainable_name(trainable: Any) -> str:
    if isinstance(trainable, str):
        return trainable
    name = getattr(trainable, "__name__", None) or type(trainable).__name__
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "trainable"


def check_trainable(trainable: Any) -> None:
    if is_class_trainable(trainable):
        return
    if isinstance(trainable, type):
        raise TypeError(
            f"{trainable.__name__} is a class but not a tune.Trainable: subclass "
            "tune.Trainable (setup/step/...) or pass a function fn(config)."
        )
    if isinstance(trainable, str):
        raise TypeError(
            f"rayground.tune does not know the registered trainable {trainable!r}: pass the "
            "function or Trainable class itself."
        )
    if not callable(trainable):
        raise TypeError(
            f"A trainable must be a function fn(config) or a tune.Trainable subclass, got "
            f"{type(trainable).__name__}."
        )
    try:
        inspect.signature(trainable).bind({})
    except TypeError as exc:
        raise TypeError(
            f"The trainable {trainable_name(trainable)} must take one argument, the config "
            f"dict (fn(config)); its signature is {inspect.signature(trainable)}. Pass other "
            "arguments with tune.with_parameters(fn, data=...)."
        ) from exc
    except ValueError:
        pass


def normalize_resources(resources: Any) -> dict[str, float]:
    """`{"cpu": 2, "gpu": 0}` (Ray's resources_per_trial) -> `{"CPU": 2.0, "GPU": 0.0}`."""
    if resources is None:
        return {"CPU": 1.0}
    if isinstance(resources, PlacementGroupFactory):  # its bundles, summed
        total: dict[str, float] = {}
        for key, value in resources.required_resources.items():
            key = key.upper() if key.lower() in ("cpu", "gpu") else key
            total[key] = total.get(key, 0.0) + value
        return total
    if not isinstance(resources, dict):
        raise TypeError(
            f"resources_per_trial must be a dict like {{'cpu': 1, 'gpu': 0}} or a "
            f"tune.PlacementGroupFactory, got {type(resources).__name__}."
        )
    out: dict[str, float] = {}
    for key, value in resources.items():
        if key == "custom_resources":
            out.update({k: float(v) for k, v in (value or {}).items()})
            continue
        if key.lower() in ("cpu", "gpu"):
            out[key.upper()] = float(value)
        elif key in ("memory", "extra_cpu", "extra_gpu"):
            continue
        else:
            out[key] = float(value)
        if out.get(key.upper(), 0) < 0:
            raise ValueError(f"resources_per_trial[{key!r}] must not be negative, got {value}.")
    out.setdefault("CPU", 1.0 if "GPU" not in out or not out["GPU"] else 0.0)
    return out


def trial_resources(
    trainable: Any, config: dict[str, Any], default: Any
) -> tuple[dict[str, float], PlacementGroupFactory | None]:
    """What a trial asks for: its resources summed (what the controller counts), and the
    PlacementGroupFactory when it was given one (the trial then runs in its own group)."""
    spec = getattr(trainable, "_tune_resources", None)
    if spec is None:
        spec = getattr(trainable, "default_resource_request", None)
        spec = spec(config) if callable(spec) and is_class_trainable(trainable) else None
    if callable(spec) and not isinstance(spec, dict | PlacementGroupFactory):
        spec = spec(config)
    if spec is None:
        spec = default
    factory = spec if isinstance(spec, PlacementGroupFactory) else None
    return normalize_resources(spec), factory


def with_resources(trainable: Any, resources: Any) -> Any:
    """The trainable, asking for `resources` per trial (a dict, or fn(config) -> dict)."""
    check_trainable(trainable)
    if not callable(resources):
        normalize_resources(resources)  # fail now on a bad dict, not when the trial starts
    if is_class_trainable(trainable):
        wrapped: Any = type(trainable.__name__, (trainable,), {"_tune_resources": resources})
        wrapped.__qualname__ = trainable.__qualname__
        return wrapped

    @functools.wraps(trainable)
    def with_resources_fn(config: dict[str, Any]) -> Any:
        return trainable(config)

    with_resources_fn._tune_resources = resources  # type: ignore[attr-defined]
    return with_resources_fn


class _ParamRefs:
    """The objects given to `with_parameters`, put in the object store once and fetched by each
    trial (large datasets are sent to each worker once, not pickled into every trial)."""

    def __init__(self, params: dict[str, Any]) -> None:
        if not rayground.is_initialized():
            rayground.init()
        self.refs = {key: rayground.put(value) for key, value in params.items()}

    def fetch(self) -> dict[str, Any]:
        return {key: rayground.get(ref) for key, ref in self.refs.items()}


def with_parameters(trainable: Any, **kwargs: Any) -> Any:
    """The trainable called as `trainable(config, **kwargs)` (a class: `setup(config, **kwargs)`),
    the kwargs stored once in the object store."""
    check_trainable_with_params(trainable)
    params = _ParamRefs(kwargs)
    if is_class_trainable(trainable):
        base_setup = trainable.setup

        def setup(self: Trainable, config: dict[str, Any]) -> None:
            base_setup(self, config, **params.fetch())

        wrapped: Any = type(trainable.__name__, (trainable,), {"setup": setup})
        wrapped.__qualname__ = trainable.__qualname__
        return wrapped

    @functools.wraps(trainable)
    def with_parameters_fn(config: dict[str, Any]) -> Any:
        return trainable(config, **params.fetch())

    # functools.wraps copied __wrapped__, whose signature (config, data) would not bind {}.
    del with_parameters_fn.__wrapped__  # type: ignore[attr-defined]
    return with_parameters_fn


def check_trainable_with_params(trainable: Any) -> None:
    if is_class_trainable(trainable):
        return
    if not callable(trainable) or isinstance(trainable, type):
        raise TypeError(
            "tune.with_parameters expects a function fn(config, **params) or a tune.Trainable "
            f"subclass, got {type(trainable).__name__}."
        )
