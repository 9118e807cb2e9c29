"""`@serve.deployment`, `Deployment` and `Application`: what the user declares before anything
runs. `Deployment.bind(*args)` gives an `Application`; bound applications passed as arguments
form the composition graph that `serve.run` deploys (each becomes a DeploymentHandle in the
replica's constructor)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .config import DeploymentConfig, build_config

__all__ = ["Application", "Deployment", "deployment"]

_OPTION_NAMES = (
    "num_replicas",
    "autoscaling_config",
    "max_ongoing_requests",
    "max_queued_requests",
    "user_config",
    "ray_actor_options",
    "graceful_shutdown_wait_loop_s",
    "graceful_shutdown_timeout_s",
    "health_check_period_s",
    "health_check_timeout_s",
    "max_constructor_retry_count",
)


class Deployment:
    """A class or function that Serve runs as a set of replicas. Use `.bind()` to make an
    application and `.options()` to change settings; it cannot be called directly."""

    def __init__(
        self,
        func_or_class: Callable[..., Any],
        name: str,
        config: DeploymentConfig,
        *,
        version: str | None = None,
    ) -> None:
        self._func_or_class = func_or_class
        self._name = name
        self._config = config
        self._version = version

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str | None:
        return self._version

    @property
    def func_or_class(self) -> Callable[..., Any]:
        return self._func_or_class

    @property
    def num_replicas(self) -> int | None:
        return self._config.num_replicas

    @property
    def max_ongoing_requests(self) -> int:
        return self._config.max_ongoing_requests

    @property
    def max_queued_requests(self) -> int:
        return self._config.max_queued_requests

    @property
    def user_config(self) -> Any:
        return self._config.user_config

    @property
    def ray_actor_options(self) -> dict[str, Any]:
        return dict(self._config.ray_actor_options)

    @property
    def autoscaling_config(self) -> Any:
        return self._config.autoscaling_config

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            "Deployments cannot be constructed directly. Use `deployment.bind()` instead."
        )

    def options(self, *, name: str | None = None, version: str | None = None, **options: Any):
        """A copy with some settings changed (same names as @serve.deployment)."""
        _check_option_names(options)
        if name is not None:
            _check_name(name)
        return Deployment(
            self._func_or_class,
            name if name is not None else self._name,
            build_config(self._config, options),
            version=version if version is not None else self._version,
        )

    def bind(self, *args: Any, **kwargs: Any) -> Application:
        """An application: this deployment with its constructor arguments (which may be other
        bound deployments: they arrive as DeploymentHandles)."""
        if not inspect.isclass(self._func_or_class) and (args or kwargs):
            raise ValueError(
                f"Function deployment {self._name!r} takes no constructor arguments; call "
                "bind() with none and pass data in the request instead."
            )
        return Application(self, args, kwargs)

    def __repr__(self) -> str:
        return f"Deployment(name={self._name})"


class Application:
    """A bound deployment, ready for `serve.run`: the ingress of a graph of deployments."""

    def __init__(self, deployment: Deployment, args: tuple, kwargs: dict[str, Any]) -> None:
        self._deployment = deployment
        self._args = args
        self._kwargs = kwargs

    def __repr__(self) -> str:
        return f"Application({self._deployment.name})"


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"A deployment's name must be a non-empty str, got {name!r}.")
    if "#" in name or "/" in name:
        raise ValueError(f"A deployment's name cannot contain '#' or '/', got {name!r}.")


def _check_option_names(options: dict[str, Any]) -> None:
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        raise TypeError(
            f"Unknown deployment option(s) {unknown}. Valid ones are: "
            f"name, version, {', '.join(_OPTION_NAMES)}."
        )


def deployment(
    _func_or_class: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    version: str | None = None,
    **options: Any,
) -> Any:
    """Turn a class or function into a Serve deployment: `@serve.deployment` or
    `@serve.deployment(num_replicas=2, max_ongoing_requests=10, ...)`."""
    _check_option_names(options)

    def decorate(target: Callable[..., Any]) -> Deployment:
        if not callable(target):
            raise TypeError(
                f"@serve.deployment expects a class or function, got {type(target).__name__}."
            )
        dep_name = name if name is not None else target.__name__
        _check_name(dep_name)
        return Deployment(target, dep_name, build_config(None, options), version=version)

    if _func_or_class is not None:
        if options or name is not None or version is not None:
            raise TypeError("Use @serve.deployment or @serve.deployment(option=value, ...).")
        return decorate(_func_or_class)
    return decorate
