"""Deployment and HTTP settings with Ray Serve's names and defaults, checked where the user
gives them so a bad value fails at `@serve.deployment`/`.options()`, not inside a replica.

Non-goals: Ray's pydantic models, gRPC options, placement groups, logging configs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AutoscalingConfig", "DeploymentConfig", "HTTPOptions"]

DEFAULT_MAX_ONGOING_REQUESTS = 5
DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT_S = 20.0
DEFAULT_GRACEFUL_SHUTDOWN_WAIT_LOOP_S = 2.0
DEFAULT_HEALTH_CHECK_PERIOD_S = 10.0
DEFAULT_HEALTH_CHECK_TIMEOUT_S = 30.0
DEFAULT_HTTP_HOST = "127.0.0.1"  # loopback unless the user asks for more
DEFAULT_HTTP_PORT = 8000


def _number(name: str, value: Any, *, minimum: float = 0.0, strict: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < minimum or (strict and value == minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ValueError(f"{name} must be a number {bound}, got {value!r}.")
    return float(value)


def _from_user(cls: Any, value: Any, what: str) -> Any:
    """An instance of the settings class `cls` from what the user gave: one, or a dict of its
    fields (unknown keys are named, not dropped)."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a dict or {cls.__name__}, got {type(value).__name__}.")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(f"Unknown {what} option(s) {unknown}; valid ones are {sorted(known)}.")
    return cls(**value)


@dataclass
class AutoscalingConfig:
    """How Serve scales a deployment between min_replicas and max_replicas so that each replica
    has about `target_ongoing_requests` requests running or queued (Ray's defaults)."""

    min_replicas: int = 1
    initial_replicas: int | None = None
    max_replicas: int = 1
    target_ongoing_requests: float = 2.0
    metrics_interval_s: float = 10.0
    look_back_period_s: float = 30.0
    upscale_delay_s: float = 30.0
    downscale_delay_s: float = 600.0
    upscaling_factor: float | None = None
    downscaling_factor: float | None = None

    def __post_init__(self) -> None:
        for name in ("min_replicas", "max_replicas"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"autoscaling_config {name} must be an int >= 0, got {value!r}.")
        if self.max_replicas < 1:
            raise ValueError("autoscaling_config max_replicas must be >= 1.")
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"autoscaling_config min_replicas ({self.min_replicas}) must be <= max_replicas "
                f"({self.max_replicas})."
            )
        if self.initial_replicas is not None and not (
            self.min_replicas <= self.initial_replicas <= self.max_replicas
        ):
            raise ValueError(
                "autoscaling_config initial_replicas must lie between min_replicas and "
                f"max_replicas, got {self.initial_replicas!r}."
            )
        _number("target_ongoing_requests", self.target_ongoing_requests, strict=True)
        _number("look_back_period_s", self.look_back_period_s, strict=True)
        _number("metrics_interval_s", self.metrics_interval_s, strict=True)
        _number("upscale_delay_s", self.upscale_delay_s)
        _number("downscale_delay_s", self.downscale_delay_s)
        for name in ("upscaling_factor", "downscaling_factor"):
            if getattr(self, name) is not None:
                _number(name, getattr(self, name), strict=True)

    @classmethod
    def from_user(cls, value: Any) -> AutoscalingConfig:
        return _from_user(cls, value, "autoscaling_config")

    @classmethod
    def default_auto(cls) -> AutoscalingConfig:
        """What `num_replicas="auto"` means in Ray Serve."""
        return cls(min_replicas=1, max_replicas=100, target_ongoing_requests=2.0)


@dataclass
class HTTPOptions:
    """Where the HTTP proxy listens. Loopback by default: pass host="0.0.0.0" to serve other
    machines."""

    host: str = DEFAULT_HTTP_HOST
    port: int = DEFAULT_HTTP_PORT
    root_path: str = ""
    request_timeout_s: float | None = None
    keep_alive_timeout_s: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ValueError(f"http_options host must be a non-empty str, got {self.host!r}.")
        if not isinstance(self.port, int) or isinstance(self.port, bool):
            raise ValueError(f"http_options port must be an int, got {self.port!r}.")
        if not 0 < self.port < 65536:
            raise ValueError(f"http_options port must be in 1..65535, got {self.port!r}.")

    @classmethod
    def from_user(cls, value: Any) -> HTTPOptions:
        return cls() if value is None else _from_user(cls, value, "http_options")


# The options of @serve.deployment and .options(), with Ray Serve's defaults.
_RAY_ACTOR_OPTION_KEYS = {
    "accelerator_type",
    "memory",
    "num_cpus",
    "num_gpus",
    "object_store_memory",
    "resources",
    "runtime_env",
}


@dataclass
class DeploymentConfig:
    """One deployment's settings, as the controller keeps them. Plain data: it crosses from the
    driver to the controller and to every router."""

    num_replicas: int | None = 1
    max_ongoing_requests: int = DEFAULT_MAX_ONGOING_REQUESTS
    max_queued_requests: int = -1
    user_config: Any = None
    autoscaling_config: AutoscalingConfig | None = None
    graceful_shutdown_wait_loop_s: float = DEFAULT_GRACEFUL_SHUTDOWN_WAIT_LOOP_S
    graceful_shutdown_timeout_s: float = DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT_S
    health_check_period_s: float = DEFAULT_HEALTH_CHECK_PERIOD_S
    health_check_timeout_s: float = DEFAULT_HEALTH_CHECK_TIMEOUT_S
    ray_actor_options: dict[str, Any] = field(default_factory=dict)
    max_constructor_retry_count: int = 20

    def initial_target(self) -> int:
        if self.autoscaling_config is not None:
            auto = self.autoscaling_config
            return auto.initial_replicas if auto.initial_replicas is not None else auto.min_replicas
        assert self.num_replicas is not None
        return self.num_replicas


def build_config(base: DeploymentConfig | None, options: dict[str, Any]) -> DeploymentConfig:
    """Apply the user's options on top of `base`, checking each; raises with what to change."""
    config = dataclasses.replace(base) if base is not None else DeploymentConfig()
    if base is not None:
        config.ray_actor_options = dict(base.ray_actor_options)
    if "num_replicas" in options:
        value = options["num_replicas"]
        if value == "auto":
            if options.get("autoscaling_config") is None:
                options = {**options, "autoscaling_config": AutoscalingConfig.default_auto()}
            config.num_replicas = None
        elif value is None:
            config.num_replicas = None
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f'num_replicas must be an int >= 0 or "auto", got {value!r}.')
        else:
            if options.get("autoscaling_config") is not None:
                raise ValueError(
                    "Manually setting num_replicas is not allowed when autoscaling_config is "
                    'provided. Use num_replicas="auto" or leave num_replicas out.'
                )
            config.num_replicas = value
            config.autoscaling_config = None
    if options.get("autoscaling_config") is not None:
        config.autoscaling_config = AutoscalingConfig.from_user(options["autoscaling_config"])
        config.num_replicas = None
    elif "autoscaling_config" in options and config.num_replicas is None:
        config.num_replicas = 1
        config.autoscaling_config = None
    for name in ("max_ongoing_requests",):
        if name in options:
            value = options[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
            setattr(config, name, value)
    if "max_queued_requests" in options:
        value = options["max_queued_requests"]
        if not isinstance(value, int) or isinstance(value, bool) or (value < 0 and value != -1):
            raise ValueError(
                f"max_queued_requests must be -1 (no limit) or an int >= 0, got {value!r}."
            )
        config.max_queued_requests = value
    for name in (
        "graceful_shutdown_wait_loop_s",
        "graceful_shutdown_timeout_s",
        "health_check_period_s",
        "health_check_timeout_s",
    ):
        if name in options:
            setattr(config, name, _number(name, options[name]))
    if "max_constructor_retry_count" in options:
        value = options["max_constructor_retry_count"]
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"max_constructor_retry_count must be an int >= 1, got {value!r}.")
        config.max_constructor_retry_count = value
    if "user_config" in options:
        config.user_config = options["user_config"]
    if "ray_actor_options" in options:
        value = options["ray_actor_options"]
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise TypeError(f"ray_actor_options must be a dict, got {type(value).__name__}.")
        unknown = sorted(set(value) - _RAY_ACTOR_OPTION_KEYS)
        if unknown:
            raise ValueError(
                f"ray_actor_options has unsupported key(s) {unknown}; valid ones are "
                f"{sorted(_RAY_ACTOR_OPTION_KEYS)}."
            )
        config.ray_actor_options = dict(value)
    return config
